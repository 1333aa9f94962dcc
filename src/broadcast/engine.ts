import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { equalBytes, fromHex, toHex } from '../codec/bytes.js'
import { decodeCbor, encodeCbor } from '../codec/cbor.js'
import { blockHash, buildBlock, membershipId, messageId, messagesRoot, proposalSigningBytes, readySigningBytes } from '../block/encoding.js'
import { Mempool, type MempoolOptions } from '../block/mempool.js'
import { checkBlock, checkMessage } from '../block/validate.js'
import { messageFromWire, messageToWire } from '../block/wire.js'
import { LIMITS, type Block, type Certificate, type ClientMessage } from '../block/types.js'
import { verifySignature, type NodeKey } from '../crypto/keys.js'
import type { NodeLibp2p } from '../network/index.js'
import { BlockStore, VoteStore, type Database, type StoredMember } from '../storage/index.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { backoffDelay, sleep } from '../util/time.js'
import type { Application, DeliveredBlock } from './application.js'
import { RbcMachine, type Effect, type RbcCrypto } from './machine.js'
import { RbcTransport, type TransportOptions } from './transport.js'
import { MAX_SYNC_ENTRIES } from './wire.js'
import { verifyCertifiedBlock } from '../block/verify.js'
import { peerIdOf } from '../block/json.js'

export const MESSAGES_TOPIC = 'ephemera/messages/1'

export interface BroadcastMember {
  name: string
  publicKey: Uint8Array
  address: string
}

export interface BroadcastOptions {
  mempool: MempoolOptions
  transport: TransportOptions
  /** How often to ask each connected member for certified blocks this node lacks (0: never). */
  syncIntervalMs: number
  /** How long a block fetch keeps retrying before giving up. */
  fetchDeadlineMs: number
  /** Delivered instances are compacted in memory after this long. */
  compactAfterMs: number
}

export interface BroadcastModules {
  libp2p: NodeLibp2p
  key: NodeKey
  members: readonly BroadcastMember[]
  db: Database
  /** Set here or with setApplication() before start(). */
  app?: Application
  logger: Logger
  now?: () => number
}

export interface BroadcastStats {
  mempool: { messages: number, bytes: number }
  delivered: number
  proposed: number
  rejected: number
  equivocations: number
  /** Certified blocks obtained by sync rather than by taking part in their broadcast. */
  synced: number
  openInstances: number
  transport: ReturnType<RbcTransport['stats']>
}

/** Where a client message ended up, for submit answers and duplicates. */
export type SubmitResult = { id: string, status: 'accepted' }

type DeliveredListener = (delivered: DeliveredBlock) => void

/**
 * The reliable-broadcast engine of one node: gossip and mempool for client messages, the Bracha
 * state machine fed by the RBC transport, block validation, the application hooks, and atomic
 * storage of every delivered block with its certificate. All state-machine work runs through
 * one queue, so effects of one input (persist, then send) finish before the next input starts.
 */
export class BroadcastEngine {
  readonly store: BlockStore
  readonly votes: VoteStore
  readonly mempool: Mempool
  readonly members: readonly BroadcastMember[]
  readonly membershipId: Uint8Array
  readonly quorum: number
  readonly maxFaulty: number
  readonly #opts: BroadcastOptions
  readonly #modules: BroadcastModules
  readonly #memberSet: ReadonlySet<string>
  readonly #storedMembers: StoredMember[]
  readonly #self: Uint8Array
  readonly #transport: RbcTransport
  readonly #now: () => number
  readonly #listeners = new Set<DeliveredListener>()
  readonly #pendingOwn = new Map<number, Uint8Array>()
  readonly #fetching = new Set<string>()
  #machine!: RbcMachine
  #app: Application | undefined
  #queue: Promise<void> = Promise.resolve()
  #controller: AbortController | undefined
  #producer = { lastRound: 0, lastHeight: 0 }
  #stats = { delivered: 0, proposed: 0, rejected: 0, equivocations: 0, synced: 0 }
  #syncing = false
  readonly #syncCursors = new Map<string, number>()
  readonly #timers = new Set<NodeJS.Timeout>()

  private constructor (opts: BroadcastOptions, modules: BroadcastModules, store: BlockStore) {
    this.#opts = opts
    this.store = store
    this.#modules = modules
    this.#now = modules.now ?? Date.now
    this.#app = modules.app
    this.members = modules.members
    this.#self = modules.key.publicKey
    this.#memberSet = new Set(modules.members.map((m) => toHex(m.publicKey)))
    this.#storedMembers = modules.members.map((m) => ({ name: m.name, publicKey: toHex(m.publicKey), address: m.address }))
    this.membershipId = membershipId(modules.members.map((m) => m.publicKey))
    this.maxFaulty = Math.floor((modules.members.length - 1) / 3)
    this.quorum = modules.members.length - this.maxFaulty
    this.votes = new VoteStore(modules.db)
    this.mempool = new Mempool(opts.mempool)
    this.#transport = new RbcTransport(opts.transport, {
      libp2p: modules.libp2p,
      peers: modules.members.map((m) => m.publicKey).filter((p) => !equalBytes(p, this.#self)),
      logger: modules.logger
    })
  }

  static async create (opts: BroadcastOptions, modules: BroadcastModules): Promise<BroadcastEngine> {
    return new BroadcastEngine(opts, modules, await BlockStore.open(modules.db))
  }

  /** Plugs in the application (when it needs the engine itself, e.g. to propose blocks). */
  setApplication (app: Application): void {
    if (this.#controller != null) throw new Error('setApplication() must be called before start()')
    this.#app = app
  }

  get #application (): Application {
    if (this.#app == null) throw new Error('no application set on the broadcast engine')
    return this.#app
  }

  get pubsub (): GossipSub {
    return this.#modules.libp2p.services.pubsub as unknown as GossipSub
  }

  get selfPublicKey (): Uint8Array {
    return this.#self
  }

  async start (): Promise<void> {
    if (this.#controller != null) return
    if (this.#app == null) throw new Error('no application set on the broadcast engine')
    this.#controller = new AbortController()
    const key = this.#modules.key
    const crypto: RbcCrypto = {
      verifyProposal: (creator, round, hash, sig) => verifySignature(creator, proposalSigningBytes(round, creator, hash), sig),
      verifyReady: (signer, round, creator, hash, sig) => verifySignature(signer, readySigningBytes(round, creator, hash), sig),
      signReady: (round, creator, hash) => key.sign(readySigningBytes(round, creator, hash)),
      blockHash: (block) => block.messages.length === block.header.messageCount && equalBytes(messagesRoot(block.messages), block.header.messagesRoot) ? blockHash(block.header) : undefined
    }
    const persisted = await this.votes.loadVotes()
    this.#machine = new RbcMachine({ members: this.members.map((m) => m.publicKey), self: this.#self, crypto, persisted })
    this.#producer = await this.votes.producerState()

    const pubsub = this.pubsub
    pubsub.topicValidators.set(MESSAGES_TOPIC, async (_peer, message) => await this.#validateGossip(message))
    pubsub.addEventListener('message', this.#onGossip)
    pubsub.subscribe(MESSAGES_TOPIC)

    await this.#transport.start({
      onMessages: async (from, items) => await this.#onRbcMessages(from, items),
      onFetch: async (_from, round, creator, hash) => await this.#serveFetch(round, creator, hash),
      onSyncList: async (afterHeight, limit) => {
        const entries = await this.store.list({ fromHeight: afterHeight + 1, limit })
        return { lastHeight: this.store.lastHeight, entries: entries.map((e) => ({ height: e.height, hash: fromHex(e.hash, 32) as Uint8Array })) }
      },
      onCertified: async (hash) => {
        const h = toHex(hash)
        const [stored, certificate] = await Promise.all([this.store.block(h), this.store.certificate(h)])
        return stored == null || certificate == null ? undefined : { block: stored.block, certificate }
      }
    })
    this.#every(60_000, async () => { await this.#enqueue(async () => { this.#machine.pruneOrphans() }) })
    if (this.#opts.syncIntervalMs > 0) this.#every(this.#opts.syncIntervalMs, async () => { await this.#syncRound() })
    this.#every(10_000, async () => { this.mempool.prune(this.#now()) })
    // own blocks still undelivered when the transport gives up on their messages are sent again,
    // so a network that regains its quorum after a long outage finishes them
    this.#every(Math.max(1_000, Math.floor(this.#opts.transport.maxAgeMs / 2)), async () => { await this.#refreshOwn() })

    // own proposals interrupted by a restart: propose the same blocks again (same hash, same signature)
    for (const pending of await this.votes.pendingOwnProposals()) {
      const hash = blockHash(pending.block.header)
      if (await this.store.has(toHex(hash))) {
        await this.votes.clearOwnProposal(pending.block.header.round)
        continue
      }
      this.#pendingOwn.set(pending.block.header.round, hash)
      await this.#enqueue(async () => { await this.#execute(this.#machine.propose(pending.block, hash, pending.signature)) })
      this.#modules.logger.info({ round: pending.block.header.round, hash: toHex(hash) }, 're-proposing own block after restart')
    }
  }

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    const pubsub = this.pubsub
    pubsub.removeEventListener('message', this.#onGossip)
    pubsub.topicValidators.delete(MESSAGES_TOPIC)
    await this.#transport.stop()
    await this.#queue.catch(() => {})
    this.#controller = undefined
  }

  onDelivered (listener: DeliveredListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  stats (): BroadcastStats {
    return {
      mempool: { messages: this.mempool.size, bytes: this.mempool.bytes },
      ...this.#stats,
      openInstances: this.#machine?.openInstances ?? 0,
      transport: this.#transport.stats()
    }
  }

  /** Rounds of own blocks proposed but not yet delivered. */
  get pendingOwnRounds (): number[] {
    return [...this.#pendingOwn.keys()]
  }

  get lastProposedRound (): number {
    return this.#producer.lastRound
  }

  /**
   * A client message from the API: checks it, adds it to the mempool and gossips it. Throws
   * MESSAGE_REJECTED (400), DUPLICATE (409) or MEMPOOL_FULL (429).
   */
  async submitMessage (message: ClientMessage): Promise<SubmitResult> {
    const id = toHex(messageId(message))
    const problem = await this.#admissionProblem(message, id)
    if (problem != null) throw problem
    const result = this.mempool.add(id, message, this.#now())
    if (result === 'duplicate') throw new EphemeraError(ErrorCode.DUPLICATE, `message ${id} is already in the mempool`)
    if (result === 'full') throw new EphemeraError(ErrorCode.MEMPOOL_FULL, `the mempool is full (${this.mempool.size} messages); retry later`)
    try {
      await this.pubsub.publish(MESSAGES_TOPIC, encodeCbor(messageToWire(message)))
    } catch (err) {
      // the message is in this node's mempool; peers that missed it get it inside a block
      this.#modules.logger.debug({ id, err: errorMessage(err) }, 'gossip publish failed')
    }
    return { id, status: 'accepted' }
  }

  /** Why a message may not enter the mempool (undefined when it may). */
  async #admissionProblem (message: ClientMessage, id: string): Promise<EphemeraError | undefined> {
    const invalid = checkMessage(message, verifySignature)
    if (invalid != null) return new EphemeraError(ErrorCode.MESSAGE_REJECTED, `message rejected: ${invalid}`)
    if (this.mempool.has(id)) return new EphemeraError(ErrorCode.DUPLICATE, `message ${id} is already in the mempool`)
    const location = await this.store.messageLocation(id)
    if (location != null) return new EphemeraError(ErrorCode.DUPLICATE, `message ${id} was already delivered in block ${location.block}`)
    const verdict = await this.#application.checkTx(message)
    if (!verdict.accept) return new EphemeraError(ErrorCode.MESSAGE_REJECTED, `message rejected by the application: ${verdict.reason}`)
    return undefined
  }

  async #validateGossip (gossip: Message): Promise<TopicValidatorResult> {
    try {
      const message = messageFromWire(decodeCbor(gossip.data, LIMITS.dataBytes + 4096, 'gossip message'))
      const problem = await this.#admissionProblem(message, toHex(messageId(message)))
      if (problem == null) return TopicValidatorResult.Accept
      return problem.code === ErrorCode.DUPLICATE ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    } catch {
      return TopicValidatorResult.Reject
    }
  }

  readonly #onGossip = (evt: CustomEvent<Message>): void => {
    if (evt.detail.topic !== MESSAGES_TOPIC) return
    try {
      const message = messageFromWire(decodeCbor(evt.detail.data, LIMITS.dataBytes + 4096, 'gossip message'))
      this.mempool.add(toHex(messageId(message)), message, this.#now())
    } catch {
      // the validator already rejected malformed messages
    }
  }

  /**
   * Proposes a block of `messages` in `round` (default: the next round). Persists the proposal
   * before sending it, so a round is never used twice. Returns the block hash.
   */
  async proposeBlock (opts: { messages: ClientMessage[], round?: number }): Promise<{ hash: Uint8Array, round: number, height: number }> {
    return await this.#enqueue(async () => {
      const round = opts.round ?? this.#producer.lastRound + 1
      if (!Number.isSafeInteger(round) || round <= this.#producer.lastRound) {
        throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `round ${round} is not after this node's last proposed round ${this.#producer.lastRound}`)
      }
      const height = this.#producer.lastHeight + 1
      const block = buildBlock({ round, creator: this.#self, height, createdAt: this.#now(), membershipId: this.membershipId }, opts.messages)
      const problem = checkBlock(block, { members: this.#memberSet, membershipId: this.membershipId, verify: verifySignature })
      if (problem != null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `cannot propose: ${problem}`)
      const verdict = await this.#application.checkBlock(block, { local: true })
      if (!verdict.accept) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `the application rejected the block: ${verdict.reason}`)
      const hash = blockHash(block.header)
      const signature = this.#modules.key.sign(proposalSigningBytes(round, this.#self, hash))
      const state = { lastRound: round, lastHeight: height }
      await this.votes.saveOwnProposal(state, { block, signature })
      this.#producer = state
      this.#pendingOwn.set(round, hash)
      this.#stats.proposed++
      this.#modules.logger.info({ round, height, hash: toHex(hash), messages: block.messages.length }, 'proposing block')
      await this.#execute(this.#machine.propose(block, hash, signature))
      return { hash, round, height }
    })
  }

  /** Runs `task` every `ms` until stop(); a failing run is logged, not fatal. */
  #every (ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((err: unknown) => { this.#modules.logger.warn({ err: errorMessage(err) }, 'periodic task failed') })
    }, ms)
    timer.unref()
    this.#timers.add(timer)
  }

  /** One sync pass: each connected member in turn, until this node has what they delivered. */
  async #syncRound (): Promise<void> {
    if (this.#syncing || this.#controller == null) return
    this.#syncing = true
    const signal = this.#controller.signal
    try {
      for (const member of this.members) {
        if (signal.aborted) return
        if (equalBytes(member.publicKey, this.#self)) continue
        const peerId = peerIdOf(member.publicKey)
        if (!this.#modules.libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId)) continue
        await this.#syncFrom(member, signal).catch((err: unknown) => {
          if (!signal.aborted) this.#modules.logger.debug({ peer: member.name, err: errorMessage(err) }, 'sync failed')
        })
      }
    } finally {
      this.#syncing = false
    }
  }

  async #syncFrom (member: BroadcastMember, signal: AbortSignal): Promise<void> {
    const peer = toHex(member.publicKey)
    let cursor = this.#syncCursors.get(peer) ?? 0
    // bounded: a peer that keeps answering without progress cannot keep this node busy
    for (let pass = 0; pass < 64; pass++) {
      const list = await this.#transport.syncList(member.publicKey, cursor, MAX_SYNC_ENTRIES, signal)
      // the peer's store was reset: start over
      if (list.lastHeight < cursor) cursor = 0
      const start = cursor
      for (const entry of list.entries) {
        if (entry.height <= cursor) {
          this.#modules.logger.warn({ peer: member.name }, 'sync: peer listed heights out of order')
          return
        }
        const hash = toHex(entry.hash)
        if (!await this.store.has(hash)) {
          const certified = await this.#transport.certified(member.publicKey, entry.hash, signal)
          if (certified == null) return
          const problem = await this.#enqueue(async () => await this.#acceptCertified(certified.block, entry.hash, certified.certificate))
          if (problem != null) {
            this.#modules.logger.warn({ peer: member.name, hash, problem }, 'sync: peer served a block that does not verify')
            return
          }
          this.#stats.synced++
        }
        cursor = entry.height
      }
      this.#syncCursors.set(peer, cursor)
      if (list.entries.length === 0 || cursor >= list.lastHeight || cursor === start) return
    }
  }

  /** Stores a certified block learned outside RBC (sync) after verifying it; returns a problem or undefined. */
  async #acceptCertified (block: Block, hash: Uint8Array, certificate: Certificate): Promise<string | undefined> {
    if (await this.store.has(toHex(hash))) return undefined
    const report = verifyCertifiedBlock({ block, claimedHash: hash, certificate, members: this.members.map((m) => m.publicKey), verify: verifySignature })
    if (!report.ok) return report.failure
    this.#machine.markDelivered(block.header.round, block.header.creator, hash)
    await this.#deliver(block, hash, certificate, 'sync')
    return undefined
  }

  async #refreshOwn (): Promise<void> {
    for (const round of this.#pendingOwn.keys()) {
      await this.#enqueue(async () => { await this.#execute(this.#machine.refresh(round, this.#self)) })
    }
  }

  /** Runs `fn` after everything queued before it. */
  async #enqueue<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn)
    this.#queue = run.then(() => {}, () => {})
    return await run
  }

  async #onRbcMessages (from: Uint8Array, items: Array<{ id: number, message?: Parameters<RbcMachine['receive']>[1], error?: string }>): Promise<number[]> {
    const acked: number[] = []
    for (const item of items) {
      if (item.message == null) {
        this.#stats.rejected++
        this.#modules.logger.warn({ from: toHex(from), err: item.error }, 'undecodable rbc message')
        acked.push(item.id)
        continue
      }
      const message = item.message
      let valid = true
      if (message.type === 'propose') {
        const problem = checkBlock(message.block, { members: this.#memberSet, membershipId: this.membershipId, verify: verifySignature }) ??
          await this.#appBlockProblem(message.block)
        if (problem != null) {
          valid = false
          this.#modules.logger.warn({ round: message.block.header.round, hash: toHex(message.hash), reason: problem }, 'refusing to echo a proposal')
        }
      }
      const deferred = await this.#enqueue(async () => {
        const effects = this.#machine.receive(from, message, valid)
        await this.#execute(effects)
        if (message.type === 'propose' && effects.some((e) => e.type === 'broadcast' && e.message.type === 'echo' && equalBytes(e.message.hash, message.hash))) {
          this.#application.onEcho?.(message.block, message.hash)
        }
        return effects.some((e) => e.type === 'defer')
      })
      // a deferred message stays unacknowledged, so its sender retransmits it later
      if (!deferred) acked.push(item.id)
    }
    return acked
  }

  async #appBlockProblem (block: Block): Promise<string | undefined> {
    try {
      const verdict = await this.#application.checkBlock(block, { local: false })
      return verdict.accept ? undefined : `application: ${verdict.reason}`
    } catch (err) {
      return `application error: ${errorMessage(err)}`
    }
  }

  async #serveFetch (round: number, creator: Uint8Array, hash: Uint8Array): Promise<Block | undefined> {
    const known = this.#machine.knownBlock(round, creator, hash)
    if (known != null) return known
    const stored = await this.store.block(toHex(hash))
    return stored?.block
  }

  async #execute (effects: Effect[]): Promise<void> {
    const log = this.#modules.logger
    for (const effect of effects) {
      switch (effect.type) {
        case 'persist-vote':
          await this.votes.saveVote(effect.vote)
          break
        case 'broadcast':
          this.#transport.broadcast(effect.message)
          break
        case 'deliver':
          await this.#deliver(effect.block, effect.hash, { round: effect.block.header.round, creator: effect.block.header.creator, blockHash: effect.hash, signatures: effect.signatures })
          break
        case 'fetch': {
          // after a restart the block may already be in the store
          const stored = await this.store.block(toHex(effect.hash))
          if (stored != null) await this.#execute(this.#machine.blockContent(stored.block))
          else this.#fetch(effect.round, effect.creator, effect.hash, effect.from)
          break
        }
        case 'equivocation':
          this.#stats.equivocations++
          log.warn({ round: effect.round, creator: toHex(effect.creator), first: toHex(effect.first.hash), second: toHex(effect.second.hash) }, 'equivocation: two signed proposals for one round')
          await this.votes.saveEvidence(effect.round, effect.creator, effect.first.hash, { header: effect.first.header, signature: effect.first.signature })
          await this.votes.saveEvidence(effect.round, effect.creator, effect.second.hash, { header: effect.second.header, signature: effect.second.signature })
          break
        case 'reject':
          this.#stats.rejected++
          log.debug({ from: toHex(effect.from), reason: effect.reason }, 'rbc message rejected')
          break
        case 'defer':
          log.debug({ from: toHex(effect.from), reason: effect.reason }, 'rbc message deferred')
          break
      }
    }
  }

  #fetch (round: number, creator: Uint8Array, hash: Uint8Array, from: Uint8Array[]): void {
    const h = toHex(hash)
    if (this.#fetching.has(h) || this.#controller == null) return
    this.#fetching.add(h)
    const signal = this.#controller.signal
    const deadline = this.#now() + this.#opts.fetchDeadlineMs
    void (async () => {
      for (let attempt = 0; !signal.aborted && this.#now() < deadline; attempt++) {
        if (this.#machine.delivered(round, creator) != null) return
        const candidates = this.#machine.fetchCandidates(round, creator, hash)
        const block = await this.#transport.fetch(candidates.length > 0 ? candidates : from, round, creator, hash, signal).catch(() => undefined)
        if (block != null && equalBytes(blockHash(block.header), hash)) {
          await this.#enqueue(async () => { await this.#execute(this.#machine.blockContent(block)) })
          return
        }
        await sleep(backoffDelay(attempt, 200, 5_000), signal).catch(() => {})
      }
      this.#modules.logger.warn({ round, hash: h }, 'could not fetch a block that members certified')
    })().finally(() => { this.#fetching.delete(h) })
  }

  async #deliver (block: Block, hash: Uint8Array, certificate: Certificate, via: 'rbc' | 'sync' = 'rbc'): Promise<void> {
    const { round, creator } = block.header
    if (await this.store.has(toHex(hash))) {
      // delivered before a restart: the application has seen it already
      this.#machine.compact(round, creator)
      return
    }
    const localHeight = await this.store.deliver({
      hash, block, certificate, membershipId: this.membershipId, members: this.#storedMembers, deliveredAt: new Date(this.#now())
    })
    this.#stats.delivered++
    this.mempool.remove(block.messages.map((m) => toHex(messageId(m))))
    if (equalBytes(creator, this.#self)) {
      this.#pendingOwn.delete(round)
      await this.votes.clearOwnProposal(round)
    }
    this.#modules.logger.info({ round, creator: toHex(creator).slice(0, 16), hash: toHex(hash), localHeight, messages: block.messages.length, signatures: certificate.signatures.length, via }, 'block delivered')
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      void this.#enqueue(async () => { this.#machine.compact(round, creator) })
    }, this.#opts.compactAfterMs)
    timer.unref()
    this.#timers.add(timer)
    const delivered: DeliveredBlock = { hash, block, certificate, localHeight }
    for (const listener of this.#listeners) {
      try {
        listener(delivered)
      } catch (err) {
        this.#modules.logger.warn({ err: errorMessage(err) }, 'delivery listener failed')
      }
    }
    try {
      await this.#application.deliverBlock(delivered)
    } catch (err) {
      this.#modules.logger.error({ hash: toHex(hash), err: errorMessage(err) }, 'application deliverBlock failed')
    }
  }
}
