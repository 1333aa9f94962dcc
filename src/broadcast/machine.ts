import { equalBytes, toHex } from '../codec/bytes.js'
import type { Block, BlockHeader, ReadySignature } from '../block/types.js'

/**
 * Bracha reliable broadcast, one instance per (round, creator), as a pure state machine: no I/O,
 * no clock, no randomness. Inputs are messages whose sender the transport has authenticated;
 * outputs are effects the driver carries out in order (a `persist-vote` must be durable before
 * any later `broadcast` is sent).
 *
 *   n = members, f = ⌊(n−1)/3⌋, q = n − f
 *   PROPOSE (creator → all, carries the block once, signed by the creator)
 *   ECHO(hash)   on the first valid PROPOSE of the instance
 *   READY(hash)  after q ECHOs for hash, or f+1 READYs for hash; signed — q READYs = certificate
 *   deliver      after q READYs for hash, once the block itself is known (fetched if need be)
 *
 * An honest node echoes at most one hash and signs READY for at most one hash per instance, across
 * restarts: votes persisted before a crash are handed back to the constructor.
 */

export type RbcMessage =
  | { type: 'propose', block: Block, hash: Uint8Array, signature: Uint8Array }
  | { type: 'echo', round: number, creator: Uint8Array, hash: Uint8Array }
  | { type: 'ready', round: number, creator: Uint8Array, hash: Uint8Array, signature: Uint8Array }

export type VoteKind = 'echo' | 'ready'

export interface PersistedVote {
  round: number
  creator: Uint8Array
  kind: VoteKind
  hash: Uint8Array
}

/** A creator's signed proposal, as kept for equivocation evidence (the hash commits to the header). */
export interface Proposal {
  hash: Uint8Array
  header: BlockHeader
  signature: Uint8Array
}

export type Effect =
  /** Make this vote durable before sending anything that follows. */
  | { type: 'persist-vote', vote: PersistedVote }
  /** Send to every other member (retransmitted until acknowledged). */
  | { type: 'broadcast', message: RbcMessage }
  | { type: 'deliver', block: Block, hash: Uint8Array, signatures: ReadySignature[] }
  /** The block for `hash` is needed: ask these members (they echoed or readied it). */
  | { type: 'fetch', round: number, creator: Uint8Array, hash: Uint8Array, from: Uint8Array[] }
  /** Two proposals by one creator for one round, both signed by it. */
  | { type: 'equivocation', round: number, creator: Uint8Array, first: Proposal, second: Proposal }
  /** A message that was dropped, and why (for logs and metrics). */
  | { type: 'reject', from: Uint8Array, reason: string }
  /** A message that cannot be taken now: do not acknowledge it, so that it is retransmitted. */
  | { type: 'defer', from: Uint8Array, reason: string }

export interface RbcCrypto {
  verifyProposal: (creator: Uint8Array, round: number, hash: Uint8Array, signature: Uint8Array) => boolean
  verifyReady: (signer: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array, signature: Uint8Array) => boolean
  signReady: (round: number, creator: Uint8Array, hash: Uint8Array) => Uint8Array
  /** Recomputes the hash of a block's header and checks its Merkle root and count. */
  blockHash: (block: Block) => Uint8Array | undefined
}

export interface RbcOptions {
  /** Public keys of every member (including self). */
  members: readonly Uint8Array[]
  self: Uint8Array
  crypto: RbcCrypto
  /** Votes this node persisted before a restart. */
  persisted?: readonly PersistedVote[]
  /**
   * Most undelivered proposed instances per creator; further PROPOSEs by that creator are
   * rejected (an honest creator has one or two in flight).
   */
  maxOpenInstancesPerCreator?: number
  /**
   * Most "orphan" instances per creator: known only from other members' ECHO/READY, with no
   * PROPOSE and no vote of this node yet. Beyond it such messages are deferred (not
   * acknowledged, so their senders retransmit), which bounds memory against a member flooding
   * rounds without losing honest votes.
   */
  maxOrphansPerCreator?: number
}

interface Instance {
  round: number
  creator: Uint8Array
  /** Every distinct proposal seen (one unless the creator equivocates). */
  proposals: Map<string, Proposal>
  /** Block content by hash (from a proposal or a fetch). */
  blocks: Map<string, Block>
  /** hash → senders (hex) → true; each sender's first echo only. */
  echoes: Map<string, Set<string>>
  echoedBy: Set<string>
  /** hash → signer (hex) → signature; each signer's first valid READY only. */
  readies: Map<string, Map<string, Uint8Array>>
  readiedBy: Set<string>
  /** What this node voted (this run or before a restart). */
  echo?: Uint8Array
  ready?: Uint8Array
  /** Whether this run has (re)sent its persisted votes. */
  resent: boolean
  delivered?: Uint8Array
  fetching: Set<string>
  /** Set when touched; pruneOrphans() drops orphans not touched since its previous call. */
  touched: boolean
}

export function thresholds (n: number): { n: number, f: number, q: number } {
  const f = Math.floor((n - 1) / 3)
  return { n, f, q: n - f }
}

function key (round: number, creator: Uint8Array): string {
  return `${round}:${toHex(creator)}`
}

export class RbcMachine {
  readonly n: number
  readonly f: number
  readonly q: number
  readonly #self: Uint8Array
  readonly #selfHex: string
  readonly #members: Map<string, Uint8Array>
  readonly #crypto: RbcCrypto
  readonly #instances = new Map<string, Instance>()
  /** Per creator (hex): undelivered instances with a proposal or an own vote, and orphans. */
  readonly #open = new Map<string, Set<string>>()
  readonly #orphans = new Map<string, Set<string>>()
  readonly #maxOpen: number
  readonly #maxOrphans: number

  constructor (opts: RbcOptions) {
    this.#members = new Map(opts.members.map((m) => [toHex(m), m]))
    if (this.#members.size !== opts.members.length) throw new Error('duplicate member keys')
    this.#self = opts.self
    this.#selfHex = toHex(opts.self)
    if (!this.#members.has(this.#selfHex)) throw new Error('self is not a member')
    ;({ n: this.n, f: this.f, q: this.q } = thresholds(this.#members.size))
    this.#crypto = opts.crypto
    this.#maxOpen = opts.maxOpenInstancesPerCreator ?? 64
    this.#maxOrphans = opts.maxOrphansPerCreator ?? 256
    for (const vote of opts.persisted ?? []) {
      const inst = this.#instances.get(key(vote.round, vote.creator)) ?? this.#create(vote.round, vote.creator)
      inst[vote.kind] = vote.hash
      this.#classify(inst)
    }
  }

  isMember (key: Uint8Array): boolean {
    return this.#members.has(toHex(key))
  }

  /** This node creates a block: send PROPOSE to all and process it locally. */
  propose (block: Block, hash: Uint8Array, signature: Uint8Array): Effect[] {
    const effects: Effect[] = []
    if (!equalBytes(block.header.creator, this.#self)) throw new Error('can only propose own blocks')
    effects.push({ type: 'broadcast', message: { type: 'propose', block, hash, signature } })
    this.#onPropose(this.#self, { block, hash, signature }, true, effects)
    return effects
  }

  /**
   * A message from member `from` (authenticated by the transport). `blockValid` tells, for a
   * PROPOSE, whether the block passed validation and the application's checkBlock.
   */
  receive (from: Uint8Array, message: RbcMessage, blockValid = true): Effect[] {
    const effects: Effect[] = []
    if (!this.isMember(from)) return [{ type: 'reject', from, reason: 'sender is not a member' }]
    switch (message.type) {
      case 'propose':
        this.#onPropose(from, message, blockValid, effects)
        break
      case 'echo':
        this.#onEcho(from, message.round, message.creator, message.hash, effects)
        break
      case 'ready':
        this.#onReady(from, message.round, message.creator, message.hash, message.signature, effects)
        break
    }
    return effects
  }

  /** Block content fetched from a peer. */
  blockContent (block: Block): Effect[] {
    const effects: Effect[] = []
    const hash = this.#crypto.blockHash(block)
    if (hash == null) return effects
    const inst = this.#instances.get(key(block.header.round, block.header.creator))
    if (inst == null || inst.delivered != null) return effects
    const h = toHex(hash)
    inst.fetching.delete(h)
    if (!inst.readies.has(h) && !inst.echoes.has(h)) return effects
    inst.blocks.set(h, block)
    this.#tryDeliver(inst, hash, effects)
    return effects
  }

  /**
   * Re-sends this node's part of an undelivered instance: its PROPOSE (when it is the creator)
   * and its ECHO and READY votes. For instances that outlived the transport's retransmission
   * window (e.g. while a quorum was down).
   */
  refresh (round: number, creator: Uint8Array): Effect[] {
    const inst = this.#instances.get(key(round, creator))
    if (inst == null || inst.delivered != null) return []
    const effects: Effect[] = []
    if (equalBytes(creator, this.#self)) {
      for (const p of inst.proposals.values()) {
        const block = inst.blocks.get(toHex(p.hash))
        if (block != null) effects.push({ type: 'broadcast', message: { type: 'propose', block, hash: p.hash, signature: p.signature } })
      }
    }
    if (inst.echo != null) effects.push({ type: 'broadcast', message: { type: 'echo', round, creator, hash: inst.echo } })
    if (inst.ready != null && inst.readiedBy.has(this.#selfHex)) {
      effects.push({ type: 'broadcast', message: { type: 'ready', round, creator, hash: inst.ready, signature: this.#crypto.signReady(round, creator, inst.ready) } })
    }
    return effects
  }

  /** Members that echoed or readied `hash` (they, or some of them, have the block). */
  fetchCandidates (round: number, creator: Uint8Array, hash: Uint8Array): Uint8Array[] {
    const inst = this.#instances.get(key(round, creator))
    if (inst == null) return []
    const h = toHex(hash)
    return [...new Set([...(inst.echoes.get(h) ?? []), ...(inst.readies.get(h)?.keys() ?? [])])]
      .filter((m) => m !== this.#selfHex)
      .map((m) => this.#members.get(m) as Uint8Array)
  }

  /**
   * Marks an instance delivered from outside RBC (a certified block obtained by sync): no further
   * votes are cast for it and late messages are ignored.
   */
  markDelivered (round: number, creator: Uint8Array, hash: Uint8Array): void {
    const inst = this.#instances.get(key(round, creator)) ?? this.#create(round, creator)
    if (inst.delivered != null) return
    inst.delivered = hash
    this.#classify(inst)
    this.compact(round, creator)
  }

  /** The block content for a hash, if this node knows it (to serve fetches). */
  knownBlock (round: number, creator: Uint8Array, hash: Uint8Array): Block | undefined {
    return this.#instances.get(key(round, creator))?.blocks.get(toHex(hash))
  }

  /** Whether the instance has delivered (and which hash). */
  delivered (round: number, creator: Uint8Array): Uint8Array | undefined {
    return this.#instances.get(key(round, creator))?.delivered
  }

  /** Echo and READY counts per hash, for diagnostics. */
  status (round: number, creator: Uint8Array): { echoes: Record<string, number>, readies: Record<string, number>, delivered?: string } | undefined {
    const inst = this.#instances.get(key(round, creator))
    if (inst == null) return undefined
    return {
      echoes: Object.fromEntries([...inst.echoes].map(([h, s]) => [h, s.size])),
      readies: Object.fromEntries([...inst.readies].map(([h, s]) => [h, s.size])),
      delivered: inst.delivered == null ? undefined : toHex(inst.delivered)
    }
  }

  /**
   * Frees a delivered instance's bulk (block content, vote tallies). What remains — its votes, the
   * delivered hash and the proposals' headers — keeps late messages ignored, equivocation still
   * detected and conflicting votes impossible.
   */
  compact (round: number, creator: Uint8Array): void {
    const inst = this.#instances.get(key(round, creator))
    if (inst?.delivered == null) return
    inst.blocks.clear()
    inst.echoes.clear()
    inst.readies.clear()
    inst.fetching.clear()
  }

  get openInstances (): number {
    return this.#instances.size
  }

  #create (round: number, creator: Uint8Array): Instance {
    const inst: Instance = { round, creator, proposals: new Map(), blocks: new Map(), echoes: new Map(), echoedBy: new Set(), readies: new Map(), readiedBy: new Set(), resent: false, fetching: new Set(), touched: true }
    this.#instances.set(key(round, creator), inst)
    return inst
  }

  /** Files an instance under open (proposal or own vote), orphan, or neither (delivered). */
  #classify (inst: Instance): void {
    const k = key(inst.round, inst.creator)
    const c = toHex(inst.creator)
    const orphan = inst.delivered == null && inst.proposals.size === 0 && inst.echo == null && inst.ready == null
    const open = inst.delivered == null && !orphan
    for (const [index, member] of [[this.#orphans, orphan], [this.#open, open]] as const) {
      let set = index.get(c)
      if (member) {
        if (set == null) index.set(c, set = new Set())
        set.add(k)
      } else {
        set?.delete(k)
      }
    }
  }

  /**
   * The instance for (round, creator), created if the per-creator limits allow; undefined (with a
   * reject or defer effect pushed) when they do not.
   */
  #instance (round: number, creator: Uint8Array, from: Uint8Array, byProposal: boolean, effects: Effect[]): Instance | undefined {
    const k = key(round, creator)
    const existing = this.#instances.get(k)
    if (existing != null) {
      existing.touched = true
      return existing
    }
    const c = toHex(creator)
    if (byProposal && (this.#open.get(c)?.size ?? 0) >= this.#maxOpen) {
      effects.push({ type: 'reject', from, reason: `creator has ${this.#maxOpen} undelivered proposals already` })
      return undefined
    }
    if (!byProposal && (this.#orphans.get(c)?.size ?? 0) >= this.#maxOrphans) {
      effects.push({ type: 'defer', from, reason: 'too many rounds of this creator without a proposal' })
      return undefined
    }
    const inst = this.#create(round, creator)
    if (!byProposal) this.#classify(inst)
    return inst
  }

  /**
   * Drops orphan instances (no proposal, no own vote) that nothing touched since the previous
   * call; the driver calls it periodically. Returns how many were dropped.
   */
  pruneOrphans (): number {
    let dropped = 0
    for (const [creator, set] of this.#orphans) {
      for (const k of set) {
        const inst = this.#instances.get(k)
        if (inst != null && inst.touched) {
          inst.touched = false
          continue
        }
        set.delete(k)
        this.#instances.delete(k)
        dropped++
      }
      if (set.size === 0) this.#orphans.delete(creator)
    }
    return dropped
  }

  /** After a restart, re-send the votes this node persisted, once, when the instance comes alive. */
  #resend (inst: Instance, effects: Effect[]): void {
    if (inst.resent) return
    inst.resent = true
    if (inst.echo != null && !inst.echoedBy.has(this.#selfHex)) {
      effects.push({ type: 'broadcast', message: { type: 'echo', round: inst.round, creator: inst.creator, hash: inst.echo } })
      this.#countEcho(inst, this.#selfHex, inst.echo, effects)
    }
    if (inst.ready != null && !inst.readiedBy.has(this.#selfHex)) {
      const signature = this.#crypto.signReady(inst.round, inst.creator, inst.ready)
      effects.push({ type: 'broadcast', message: { type: 'ready', round: inst.round, creator: inst.creator, hash: inst.ready, signature } })
      this.#countReady(inst, this.#selfHex, inst.ready, signature, effects)
    }
  }

  #onPropose (from: Uint8Array, p: { block: Block, hash: Uint8Array, signature: Uint8Array }, valid: boolean, effects: Effect[]): void {
    const { header } = p.block
    if (!equalBytes(from, header.creator)) {
      effects.push({ type: 'reject', from, reason: 'PROPOSE not sent by the block creator' })
      return
    }
    const computed = this.#crypto.blockHash(p.block)
    if (computed == null || !equalBytes(computed, p.hash)) {
      effects.push({ type: 'reject', from, reason: 'block hash or Merkle root does not recompute' })
      return
    }
    if (!this.#crypto.verifyProposal(header.creator, header.round, p.hash, p.signature)) {
      effects.push({ type: 'reject', from, reason: 'bad proposal signature' })
      return
    }
    const inst = this.#instance(header.round, header.creator, from, true, effects)
    if (inst == null) return
    const h = toHex(p.hash)
    if (!inst.proposals.has(h)) {
      const first = inst.proposals.values().next().value
      const proposal: Proposal = { hash: p.hash, header, signature: p.signature }
      inst.proposals.set(h, proposal)
      this.#classify(inst)
      if (first != null) effects.push({ type: 'equivocation', round: header.round, creator: header.creator, first, second: proposal })
    }
    if (inst.delivered != null) return
    inst.blocks.set(h, p.block)
    inst.fetching.delete(h)
    this.#resend(inst, effects)
    if (!valid) {
      effects.push({ type: 'reject', from, reason: 'block failed validation' })
    } else if (inst.echo == null) {
      inst.echo = p.hash
      this.#classify(inst)
      effects.push({ type: 'persist-vote', vote: { round: inst.round, creator: inst.creator, kind: 'echo', hash: p.hash } })
      effects.push({ type: 'broadcast', message: { type: 'echo', round: inst.round, creator: inst.creator, hash: p.hash } })
      this.#countEcho(inst, this.#selfHex, p.hash, effects)
    }
    this.#tryDeliver(inst, p.hash, effects)
  }

  #onEcho (from: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array, effects: Effect[]): void {
    if (!this.isMember(creator)) {
      effects.push({ type: 'reject', from, reason: 'creator is not a member' })
      return
    }
    const inst = this.#instance(round, creator, from, false, effects)
    if (inst == null || inst.delivered != null) return
    this.#resend(inst, effects)
    this.#countEcho(inst, toHex(from), hash, effects)
  }

  #countEcho (inst: Instance, fromHex: string, hash: Uint8Array, effects: Effect[]): void {
    if (inst.echoedBy.has(fromHex)) return
    inst.echoedBy.add(fromHex)
    const h = toHex(hash)
    const set = inst.echoes.get(h) ?? new Set<string>()
    set.add(fromHex)
    inst.echoes.set(h, set)
    if (set.size >= this.q) this.#sendReady(inst, hash, effects)
  }

  #onReady (from: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array, signature: Uint8Array, effects: Effect[]): void {
    if (!this.isMember(creator)) {
      effects.push({ type: 'reject', from, reason: 'creator is not a member' })
      return
    }
    if (!this.#crypto.verifyReady(from, round, creator, hash, signature)) {
      effects.push({ type: 'reject', from, reason: 'bad READY signature' })
      return
    }
    const inst = this.#instance(round, creator, from, false, effects)
    if (inst == null || inst.delivered != null) return
    this.#resend(inst, effects)
    this.#countReady(inst, toHex(from), hash, signature, effects)
  }

  #countReady (inst: Instance, fromHex: string, hash: Uint8Array, signature: Uint8Array, effects: Effect[]): void {
    if (inst.readiedBy.has(fromHex)) return
    inst.readiedBy.add(fromHex)
    const h = toHex(hash)
    const votes = inst.readies.get(h) ?? new Map<string, Uint8Array>()
    votes.set(fromHex, signature)
    inst.readies.set(h, votes)
    // amplification: f+1 READYs include at least one honest node's
    if (votes.size >= this.f + 1) this.#sendReady(inst, hash, effects)
    if (votes.size >= this.f + 1 && !inst.blocks.has(h) && !inst.fetching.has(h)) {
      inst.fetching.add(h)
      effects.push({ type: 'fetch', round: inst.round, creator: inst.creator, hash, from: this.fetchCandidates(inst.round, inst.creator, hash) })
    }
    this.#tryDeliver(inst, hash, effects)
  }

  #sendReady (inst: Instance, hash: Uint8Array, effects: Effect[]): void {
    if (inst.readiedBy.has(this.#selfHex)) return
    if (inst.ready != null && !equalBytes(inst.ready, hash)) return // signed another hash before: never conflict
    const persisted = inst.ready != null
    inst.ready = hash
    this.#classify(inst)
    if (!persisted) effects.push({ type: 'persist-vote', vote: { round: inst.round, creator: inst.creator, kind: 'ready', hash } })
    const signature = this.#crypto.signReady(inst.round, inst.creator, hash)
    effects.push({ type: 'broadcast', message: { type: 'ready', round: inst.round, creator: inst.creator, hash, signature } })
    this.#countReady(inst, this.#selfHex, hash, signature, effects)
  }

  #tryDeliver (inst: Instance, hash: Uint8Array, effects: Effect[]): void {
    if (inst.delivered != null) return
    const h = toHex(hash)
    const votes = inst.readies.get(h)
    const block = inst.blocks.get(h)
    if (votes == null || votes.size < this.q || block == null) return
    inst.delivered = hash
    this.#classify(inst)
    const signatures = [...votes].map(([signer, signature]) => ({ signer: this.#members.get(signer) as Uint8Array, signature }))
    effects.push({ type: 'deliver', block, hash, signatures })
  }
}
