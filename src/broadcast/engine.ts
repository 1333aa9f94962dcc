import { equalBytes, fromHex, toHex } from '../codec/bytes.js'
import { blockHash, membershipId, messagesRoot, proposalSigningBytes, readySigningBytes } from '../block/encoding.js'
import { Mempool, type MempoolOptions } from '../block/mempool.js'
import { checkBlock } from '../block/validate.js'
import { verifyCertifiedBlock } from '../block/verify.js'
import type { Block, Certificate, ClientMessage } from '../block/types.js'
import { verifySignature, type NodeKey } from '../crypto/keys.js'
import type { Gossip, PeerNetwork } from '../network/peers.js'
import { BlockStore, VoteStore, type Database, type Vote } from '../storage/index.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { FaultLog } from '../util/fault-log.js'
import { SerialQueue } from '../util/serial.js'
import { ClientAdmission, type SubmitResult } from './admission.js'
import type { Application } from './application.js'
import { Delivery, type DeliveredListener } from './delivery.js'
import { BlockFetcher } from './fetcher.js'
import { RbcMachine, type Effect, type MachineStats, type RbcCrypto, type RbcLimits } from './machine.js'
import { OwnProposals } from './own-proposals.js'
import { StaticCommittee, type BroadcastMember, type CommitteeSource, type RoundCommittee } from './committees.js'
import { CertifiedSync } from './sync.js'
import { RbcTransport, type InboundItem, type TransportOptions, type TransportStats } from './transport.js'

export { MESSAGES_TOPIC, type SubmitResult } from './admission.js'

export type { BroadcastMember } from './committees.js'

/**
 * Two conflicting signed statements for one slot, evidence against their signer: two proposals of
 * one creator for one round (kind proposal; the signer is the creator), or two READYs of one
 * signer for one (round, creator) (kind ready).
 */
export interface ProposalEquivocation {
  kind: 'proposal' | 'ready'
  round: number
  creator: Uint8Array
  signer: Uint8Array
  first: { hash: Uint8Array, signature: Uint8Array }
  second: { hash: Uint8Array, signature: Uint8Array }
}

export interface BroadcastOptions {
  mempool: MempoolOptions
  transport: TransportOptions
  /** How often to ask each connected member for certified blocks this node lacks (0: never). */
  syncIntervalMs: number
  /** How long a block fetch keeps retrying before giving up. */
  fetchDeadlineMs: number
  /** Bounds of the state machine (defaults: DEFAULT_RBC_LIMITS). */
  limits?: Partial<RbcLimits>
  /** Equivocation evidence slots kept on disk (the oldest rounds go first). */
  maxEvidence: number
}

export interface BroadcastModules {
  network: PeerNetwork
  gossip: Gossip
  key: NodeKey
  /** The genesis committee (the peers file). */
  members: readonly BroadcastMember[]
  /** The committee of each round; default: `members` for every round. */
  committees?: CommitteeSource
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
  /** Live RBC instances (undelivered, with a proposal, an own vote, or others' votes). */
  openInstances: number
  machine: MachineStats
  fetching: number
  transport: TransportStats
}

/**
 * The reliable-broadcast engine of one node. It owns the Bracha state machine and runs every
 * input to it through one serial queue, so that the effects of one input (persist, then send)
 * finish before the next input starts; the parts around it each do one job: client admission
 * (admission.ts), own proposals (own-proposals.ts), delivery and storage (delivery.ts), block
 * fetches (fetcher.ts), sync of certified blocks (sync.ts) and the retransmitting transport
 * (transport.ts).
 */
export class BroadcastEngine {
  readonly store: BlockStore
  readonly votes: VoteStore
  readonly mempool: Mempool
  /** The genesis committee (the peers file); each round's own: committeeAt(round). */
  readonly members: readonly BroadcastMember[]
  readonly membershipId: Uint8Array
  readonly quorum: number
  readonly maxFaulty: number
  readonly committees: CommitteeSource
  readonly #opts: BroadcastOptions
  readonly #m: BroadcastModules
  readonly #self: Uint8Array
  readonly #now: () => number
  readonly #queue = new SerialQueue()
  readonly #transport: RbcTransport
  readonly #admission: ClientAdmission
  readonly #own: OwnProposals
  readonly #delivery: Delivery
  readonly #fetcher: BlockFetcher
  readonly #sync: CertifiedSync
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #echoListeners = new Set<(block: Block) => void>()
  readonly #equivocationListeners = new Set<(e: ProposalEquivocation) => void>()
  readonly #faults: FaultLog
  #machine: RbcMachine | undefined
  #offCommittees: (() => void) | undefined
  #app: Application | undefined
  #controller: AbortController | undefined
  #stats = { proposed: 0, rejected: 0, equivocations: 0 }

  private constructor (opts: BroadcastOptions, modules: BroadcastModules, store: BlockStore) {
    this.#opts = opts
    this.#m = modules
    this.store = store
    this.#now = modules.now ?? Date.now
    this.#app = modules.app
    this.members = modules.members
    this.#self = modules.key.publicKey
    this.committees = modules.committees ?? new StaticCommittee(modules.members)
    this.membershipId = membershipId(modules.members.map((m) => m.publicKey))
    this.maxFaulty = Math.floor((modules.members.length - 1) / 3)
    this.quorum = modules.members.length - this.maxFaulty
    this.votes = new VoteStore(modules.db)
    this.mempool = new Mempool(opts.mempool)
    const app = (): Application => this.#application
    const logger = modules.logger
    this.#faults = new FaultLog(logger, { now: this.#now })
    this.#transport = new RbcTransport(opts.transport, { network: modules.network, peers: this.#peerKeys(), logger, now: modules.now })
    this.#admission = new ClientAdmission({ mempool: this.mempool, store, gossip: modules.gossip, app, logger, now: this.#now })
    this.#own = new OwnProposals({ key: modules.key, votes: this.votes, store, app, now: this.#now, committees: this.committees })
    this.#delivery = new Delivery({
      store, votes: this.votes, mempool: this.mempool, own: this.#own, app, logger, now: this.#now,
      committee: (round) => {
        const c = this.committees.at(round)
        return { membershipId: c.membershipId, members: c.members.map((m) => ({ name: m.name, publicKey: toHex(m.publicKey), address: m.address })) }
      },
      floor: (creator) => this.#machine?.floor(creator) ?? 0
    })
    this.#fetcher = new BlockFetcher(opts.fetchDeadlineMs, {
      transport: this.#transport,
      candidates: (round, creator, hash) => this.#machine?.fetchCandidates(round, creator, hash) ?? [],
      settled: (round, creator) => this.#machine?.settled(round, creator) ?? true,
      onBlock: async (block) => { await this.#run((machine) => machine.blockContent(block)) },
      logger,
      now: this.#now
    })
    this.#sync = new CertifiedSync({
      transport: this.#transport, network: modules.network, store, members: () => this.committees.peers(), self: this.#self, logger,
      accept: async (block, hash, certificate) => await this.#queue.run(async () => await this.#acceptCertified(block, hash, certificate))
    })
  }

  /** Everyone else this node exchanges RBC messages with (the committees of live rounds). */
  #peerKeys (): Uint8Array[] {
    return this.committees.peers().map((m) => m.publicKey).filter((p) => !equalBytes(p, this.#self))
  }

  /** The committee of a round (= an epoch for the rewards application). */
  committeeAt (round: number): RoundCommittee {
    return this.committees.at(round)
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

  get selfPublicKey (): Uint8Array {
    return this.#self
  }

  async start (): Promise<void> {
    if (this.#controller != null) return
    if (this.#app == null) throw new Error('no application set on the broadcast engine')
    this.#controller = new AbortController()
    const signal = this.#controller.signal
    const key = this.#m.key
    const crypto: RbcCrypto = {
      verifyProposal: (creator, round, hash, sig) => verifySignature(creator, proposalSigningBytes(round, creator, hash), sig),
      verifyReady: (signer, round, creator, hash, sig) => verifySignature(signer, readySigningBytes(round, creator, hash), sig),
      signReady: (round, creator, hash) => key.sign(readySigningBytes(round, creator, hash)),
      blockHash: (block) => block.messages.length === block.header.messageCount && equalBytes(messagesRoot(block.messages), block.header.messagesRoot) ? blockHash(block.header) : undefined
    }
    const window = this.#opts.limits?.decidedWindow ?? 64
    const restored = await this.votes.load(window, this.#knownKeys())
    this.#machine = new RbcMachine({ members: this.#knownKeys(), committees: (round) => this.committees.at(round), self: this.#self, crypto, restored, limits: this.#opts.limits })
    // the committees follow the coordinator: peers (transport queues, sync sources) follow them
    this.#offCommittees = this.committees.onChange(() => {
      this.#transport.setPeers(this.#peerKeys()).catch((err: unknown) => { this.#m.logger.warn({ err: errorMessage(err) }, 'could not follow the committee\'s peers') })
    })
    await this.#queue.run(async () => { await this.#execute(this.#machine?.enforceWindow() ?? []) })
    const again = await this.#own.load()

    this.#admission.start()
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
    this.#every(60_000, async () => { await this.#queue.run(async () => { this.#machine?.pruneOrphans() }) })
    if (this.#opts.syncIntervalMs > 0) this.#every(this.#opts.syncIntervalMs, async () => { await this.#sync.round(signal) })
    this.#every(10_000, async () => { this.mempool.prune(this.#now()) })
    // own blocks still undelivered when the transport gives up on their messages are sent again,
    // so a network that regains its quorum after a long outage finishes them
    this.#every(Math.max(1_000, Math.floor(this.#opts.transport.maxAgeMs / 2)), async () => {
      for (const round of this.#own.pendingRounds) await this.#run((machine) => machine.refresh(round, this.#self))
    })
    // own proposals interrupted by a restart: propose the same blocks again (same hash, same signature)
    for (const p of again) {
      this.#m.logger.info({ round: p.block.header.round, hash: toHex(p.hash) }, 're-proposing own block after restart')
      await this.#run((machine) => machine.propose(p.block, p.hash, p.signature))
    }
  }

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    this.#offCommittees?.()
    for (const timer of this.#timers) clearInterval(timer)
    this.#timers.clear()
    await this.#admission.stop()
    await this.#fetcher.stop()
    await this.#transport.stop()
    await this.#queue.drained()
    this.#faults.flush()
    this.#controller = undefined
  }

  /** Every creator whose state is kept: the genesis members and the committees' peers. */
  #knownKeys (): Uint8Array[] {
    const keys = new Map<string, Uint8Array>()
    for (const m of [...this.members, ...this.committees.peers()]) keys.set(toHex(m.publicKey), m.publicKey)
    return [...keys.values()]
  }

  /** This node's own persisted RBC votes (above the creators' floors). */
  async ownVotes (): Promise<Vote[]> {
    return await this.votes.votes(this.#knownKeys())
  }

  onDelivered (listener: DeliveredListener): () => void {
    return this.#delivery.onDelivered(listener)
  }

  /** Called with each pair of conflicting signed proposals of one creator for one round (once per slot). */
  onEquivocation (listener: (e: ProposalEquivocation) => void): () => void {
    this.#equivocationListeners.add(listener)
    return () => { this.#equivocationListeners.delete(listener) }
  }

  /** Called when this node echoes another member's block (its content checked). */
  onEchoed (listener: (block: Block) => void): () => void {
    this.#echoListeners.add(listener)
    return () => { this.#echoListeners.delete(listener) }
  }

  stats (): BroadcastStats {
    const machine = this.#machine?.stats() ?? { open: 0, orphans: 0, decided: 0, blockBytes: 0 }
    return {
      mempool: { messages: this.mempool.size, bytes: this.mempool.bytes },
      delivered: this.#delivery.delivered,
      ...this.#stats,
      synced: this.#sync.synced,
      openInstances: machine.open + machine.orphans,
      machine,
      fetching: this.#fetcher.active,
      transport: this.#transport.stats()
    }
  }

  /** Rounds of own blocks proposed but not yet delivered. */
  get pendingOwnRounds (): number[] {
    return this.#own.pendingRounds
  }

  get lastProposedRound (): number {
    return this.#own.lastRound
  }

  /** A client message from the API (see ClientAdmission.submit). */
  async submitMessage (message: ClientMessage): Promise<SubmitResult> {
    return await this.#admission.submit(message)
  }

  /**
   * Proposes a block of `messages` in `round` (default: the next round). Persists the proposal
   * before sending it, so a round is never used twice. Returns the block hash.
   */
  async proposeBlock (opts: { messages: ClientMessage[], round?: number }): Promise<{ hash: Uint8Array, round: number, height: number }> {
    return await this.#queue.run(async () => {
      const p = await this.#own.create(opts.messages, opts.round)
      this.#stats.proposed++
      this.#m.logger.info({ round: p.round, height: p.height, hash: toHex(p.hash), messages: p.block.messages.length }, 'proposing block')
      await this.#execute(this.#machineOrThrow.propose(p.block, p.hash, p.signature))
      return { hash: p.hash, round: p.round, height: p.height }
    })
  }

  /**
   * Closes every round below `round` of every creator: nothing is voted or kept there any more.
   * For applications whose rounds run on a clock (the rewards epochs).
   */
  async closeRoundsBelow (round: number): Promise<void> {
    await this.#run((machine) => machine.closeBelow(round))
  }

  get #machineOrThrow (): RbcMachine {
    if (this.#machine == null) throw new Error('the broadcast engine is not started')
    return this.#machine
  }

  /** Feeds the machine in the serial queue and carries out the effects. */
  async #run (input: (machine: RbcMachine) => Effect[]): Promise<void> {
    await this.#queue.run(async () => { await this.#execute(input(this.#machineOrThrow)) })
  }

  /** Runs `task` every `ms` until stop(); a failing run is logged, not fatal. */
  #every (ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((err: unknown) => { this.#m.logger.warn({ err: errorMessage(err) }, 'periodic task failed') })
    }, ms)
    timer.unref()
    this.#timers.add(timer)
  }

  /** Stores a certified block learned outside RBC (sync) after verifying it; returns a problem or undefined. */
  async #acceptCertified (block: Block, hash: Uint8Array, certificate: Certificate): Promise<string | undefined> {
    if (await this.store.has(toHex(hash))) return undefined
    const report = verifyCertifiedBlock({ block, claimedHash: hash, certificate, members: [...this.committees.at(block.header.round).keys], verify: verifySignature })
    if (!report.ok) return report.failure
    const machine = this.#machineOrThrow
    const floors = machine.markDelivered(block.header.round, block.header.creator, hash)
    await this.#delivery.deliver(block, hash, certificate, 'sync')
    await this.#execute(floors)
    return undefined
  }

  async #onRbcMessages (from: Uint8Array, items: InboundItem[]): Promise<number[]> {
    const acked: number[] = []
    for (const item of items) {
      const message = item.message
      if (message == null) {
        // counted and logged by the transport; acknowledged so that it is never sent again
        this.#stats.rejected++
        acked.push(item.id)
        continue
      }
      let valid = false
      if (message.type === 'propose' && this.#machineOrThrow.wantsProposal(message.block.header.round, message.block.header.creator, message.hash)) {
        const committee = this.committees.at(message.block.header.round)
        const problem = checkBlock(message.block, { members: committee.hex, membershipId: committee.membershipId, verify: verifySignature }) ??
          await this.#appBlockProblem(message.block)
        valid = problem == null
        // one line per creator per minute, with a count: a member proposing junk cannot flood the log
        if (problem != null) this.#faults.report(`invalid-proposal:${toHex(message.block.header.creator)}`, { creator: toHex(message.block.header.creator).slice(0, 16), round: message.block.header.round, hash: toHex(message.hash), reason: problem }, 'refusing to echo a proposal')
      }
      const deferred = await this.#queue.run(async () => {
        const effects = this.#machineOrThrow.receive(from, message, valid)
        await this.#execute(effects)
        if (message.type === 'propose' && effects.some((e) => e.type === 'broadcast' && e.message.type === 'echo' && equalBytes(e.message.hash, message.hash))) {
          this.#application.onEcho?.(message.block, message.hash)
          for (const listener of this.#echoListeners) listener(message.block)
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
    const known = this.#machine?.knownBlock(round, creator, hash)
    if (known != null) return known
    return (await this.store.block(toHex(hash)))?.block
  }

  /** Carries out effects in order (inside the serial queue). */
  async #execute (effects: Effect[]): Promise<void> {
    const log = this.#m.logger
    for (const effect of effects) {
      switch (effect.type) {
        case 'persist-vote':
          await this.votes.saveVote(effect.vote)
          break
        case 'broadcast': {
          // to the committee of the message's round only
          const m = effect.message
          this.#transport.broadcast(m, this.committees.at(m.type === 'propose' ? m.block.header.round : m.round).hex)
          break
        }
        case 'deliver': {
          const { round, creator } = effect.block.header
          await this.#delivery.deliver(effect.block, effect.hash, { round, creator, blockHash: effect.hash, signatures: effect.signatures }, 'rbc', effect.proposalSignature)
          break
        }
        case 'fetch': {
          // after a restart the block may already be in the store
          const stored = await this.store.block(toHex(effect.hash))
          if (stored != null) await this.#execute(this.#machineOrThrow.blockContent(stored.block))
          else this.#fetcher.fetch(effect.round, effect.creator, effect.hash, effect.from)
          break
        }
        case 'equivocation':
          this.#stats.equivocations++
          this.#faults.report(`equivocation:${toHex(effect.creator)}`, { round: effect.round, creator: toHex(effect.creator), first: toHex(effect.first.hash), second: toHex(effect.second.hash) }, 'equivocation: two signed proposals for one round')
          await this.votes.saveEvidence({ round: effect.round, creator: effect.creator, first: effect.first, second: effect.second }, this.#opts.maxEvidence)
          for (const listener of this.#equivocationListeners) listener({ kind: 'proposal', round: effect.round, creator: effect.creator, signer: effect.creator, first: effect.first, second: effect.second })
          break
        case 'ready-equivocation':
          this.#stats.equivocations++
          this.#faults.report(`ready-equivocation:${toHex(effect.signer)}`, { round: effect.round, creator: toHex(effect.creator), signer: toHex(effect.signer) }, 'equivocation: two signed READYs for one instance')
          for (const listener of this.#equivocationListeners) listener({ kind: 'ready', round: effect.round, creator: effect.creator, signer: effect.signer, first: effect.first, second: effect.second })
          break
        case 'floor':
          await this.votes.raiseFloor(effect.creator, effect.floor, effect.previous, equalBytes(effect.creator, this.#self) ? this.#own.forgetBelow(effect.floor) : [])
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
}
