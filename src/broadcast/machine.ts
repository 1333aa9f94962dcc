import { equalBytes, fromHex, toHex } from '../codec/bytes.js'
import type { Block } from '../block/types.js'
import { CreatorState, creatorsStats, type Instance, type InstanceStatus } from './creator-state.js'
import { keysCommittee } from './committees.js'
import { DEFAULT_RBC_LIMITS, type Effect, type MachineStats, type Proposal, type RbcCrypto, type RbcLimits, type RbcMessage, type RbcOptions } from './rbc-types.js'

export { DEFAULT_RBC_LIMITS, thresholds, type Effect, type MachineStats, type PersistedVote, type Proposal, type RbcCrypto, type RbcLimits, type RbcMessage, type RbcOptions, type RestoredState, type VoteKind } from './rbc-types.js'

/**
 * Bracha reliable broadcast, one instance per (round, creator), as a pure state machine: no I/O,
 * no clock, no randomness. Inputs are messages whose sender the transport has authenticated;
 * outputs are effects the driver carries out in order (a `persist-vote` must be durable before
 * any later `broadcast` is sent).
 *
 *   n = members of the round's committee, f = ⌊(n−1)/3⌋, q = n − f (each round may have its own)
 *   PROPOSE (creator → all, carries the block once, signed by the creator)
 *   ECHO(hash)   on the first valid PROPOSE of the instance
 *   READY(hash)  after q ECHOs for hash, or f+1 READYs for hash; signed — q READYs = certificate
 *   deliver      after q READYs for hash, once the block itself is known (fetched if need be)
 *
 * An honest node echoes at most one hash and signs READY for at most one hash per instance, across
 * restarts: votes persisted before a crash are handed back to the constructor.
 *
 * State does not grow with history. A delivered instance shrinks at once to its hash (and the
 * proposal signature, for later equivocation evidence). Each creator has a **floor**: every round
 * at or below it is closed — messages for it are ignored and this node never votes in it again —
 * so nothing below it is kept, in memory or on disk. The floor follows the creator's highest
 * decided round at a distance of `decidedWindow` rounds, and the application may close old rounds
 * of every creator at once (closeBelow). Each live instance keeps at most one block (the one it
 * echoed, or the one its READYs certify) and at most one pair of conflicting proposals.
 */

const fromHex32 = (hex: string): Uint8Array => fromHex(hex, 32) as Uint8Array

export class RbcMachine {
  readonly #self: Uint8Array
  readonly #selfHex: string
  /** The committee of a round: who may propose, vote and certify in it. */
  readonly #committee: (round: number) => { hex: ReadonlySet<string>, f: number, q: number }
  readonly #creators = new Map<string, CreatorState>()
  /** Floors restored from storage, for creators whose state is made later (members admitted later). */
  readonly #restoredFloors: ReadonlyMap<string, number>
  readonly #crypto: RbcCrypto
  readonly #limits: RbcLimits

  constructor (opts: RbcOptions) {
    this.#self = opts.self
    this.#selfHex = toHex(opts.self)
    if (opts.committees != null) {
      this.#committee = opts.committees
    } else {
      const fixed = keysCommittee(opts.members ?? [])
      if (!fixed.hex.has(this.#selfHex)) throw new Error('self is not a member')
      this.#committee = () => fixed
    }
    this.#crypto = opts.crypto
    this.#limits = { ...DEFAULT_RBC_LIMITS, ...opts.limits }
    this.#restoredFloors = opts.restored?.floors ?? new Map()
    for (const key of opts.members ?? []) this.#creatorOf(key)
    for (const d of opts.restored?.decided ?? []) {
      this.#creatorOf(d.creator).restoreDecided(d.round, d.hash, d.proposalSignature)
    }
    for (const vote of [...(opts.persisted ?? []), ...(opts.restored?.votes ?? [])]) {
      const c = this.#creatorOf(vote.creator)
      if (c.closed(vote.round) || c.decided.has(vote.round)) continue
      const inst = c.instances.get(vote.round) ?? c.create(vote.round)
      inst[vote.kind] = vote.hash
      c.classify(inst)
    }
  }

  /** Whether `key` is in the committee of `round`. */
  isMember (key: Uint8Array, round: number): boolean {
    return this.#committee(round).hex.has(toHex(key))
  }

  /** The state of a creator (made on first use: members admitted later get theirs then). */
  #creatorOf (key: Uint8Array): CreatorState {
    const hex = toHex(key)
    let c = this.#creators.get(hex)
    if (c == null) {
      c = new CreatorState(key, this.#restoredFloors.get(hex) ?? 0)
      this.#creators.set(hex, c)
    }
    return c
  }

  /** The state of a creator that is a member of `round`'s committee. */
  #memberCreator (key: Uint8Array, round: number): CreatorState | undefined {
    return this.isMember(key, round) ? this.#creatorOf(key) : undefined
  }

  /**
   * Raises each creator's floor to its highest decided round minus the window (after a restart,
   * or when the window shrank). Returns the `floor` effects to persist.
   */
  enforceWindow (): Effect[] {
    const effects: Effect[] = []
    for (const c of this.#creators.values()) this.#trail(c, effects)
    return effects
  }

  /** Closes every round below `round`, of every creator (the application knows they are over). */
  closeBelow (round: number): Effect[] {
    const effects: Effect[] = []
    for (const c of this.#creators.values()) if (round - 1 > c.floor) this.#raise(c, round - 1, effects)
    return effects
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
   * Whether a PROPOSE for (round, creator, hash) could still change anything here, so that the
   * driver validates its block (costly) only then: not for a closed or decided round, a hash
   * already seen, or a slot that already has a pair of conflicting proposals.
   */
  wantsProposal (round: number, creator: Uint8Array, hash: Uint8Array): boolean {
    const c = this.#memberCreator(creator, round)
    if (c == null || !this.isMember(this.#self, round) || c.closed(round) || c.decided.has(round)) return false
    const inst = c.instances.get(round)
    if (inst == null) return true
    const h = toHex(hash)
    if (inst.blocks.has(h) || inst.invalid.has(h)) return false
    const seen = [inst.first, inst.second].some((p) => p != null && toHex(p.hash) === h)
    if (!seen && inst.second != null) return false
    return inst.echo == null || equalBytes(inst.echo, hash) || (inst.readies.get(h)?.size ?? 0) > this.#committee(round).f
  }

  /**
   * A message from member `from` (authenticated by the transport). `blockValid` tells, for a
   * PROPOSE, whether the block passed validation and the application's checkBlock.
   */
  receive (from: Uint8Array, message: RbcMessage, blockValid = true): Effect[] {
    const effects: Effect[] = []
    const round = message.type === 'propose' ? message.block.header.round : message.round
    if (!this.isMember(from, round)) return [{ type: 'reject', from, reason: `sender is not in the committee of round ${round}` }]
    // outside a round's committee this node neither votes nor keeps state for it (it syncs the blocks)
    if (!this.isMember(this.#self, round)) return effects
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

  /** Block content fetched from a peer (kept only when votes name its hash). */
  blockContent (block: Block): Effect[] {
    const effects: Effect[] = []
    const hash = this.#crypto.blockHash(block)
    if (hash == null) return effects
    const c = this.#creators.get(toHex(block.header.creator))
    const inst = c?.instances.get(block.header.round)
    if (c == null || inst == null) return effects
    const h = toHex(hash)
    inst.fetching.delete(h)
    if (!inst.readies.has(h) && !inst.echoes.has(h)) return effects
    c.keepBlock(inst, h, block)
    this.#tryDeliver(c, inst, hash, effects)
    return effects
  }

  /**
   * Re-sends this node's part of an undelivered instance: its PROPOSE (when it is the creator)
   * and its ECHO and READY votes. For instances that outlived the transport's retransmission
   * window (e.g. while a quorum was down).
   */
  refresh (round: number, creator: Uint8Array): Effect[] {
    const inst = this.#creators.get(toHex(creator))?.instances.get(round)
    if (inst == null) return []
    const effects: Effect[] = []
    if (equalBytes(creator, this.#self)) {
      for (const p of [inst.first, inst.second]) {
        const block = p == null ? undefined : inst.blocks.get(toHex(p.hash))
        if (p != null && block != null) effects.push({ type: 'broadcast', message: { type: 'propose', block, hash: p.hash, signature: p.signature } })
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
    const inst = this.#creators.get(toHex(creator))?.instances.get(round)
    if (inst == null) return []
    const h = toHex(hash)
    return [...new Set([...(inst.echoes.get(h) ?? []), ...(inst.readies.get(h)?.keys() ?? [])])]
      .filter((m) => m !== this.#selfHex)
      .map((m) => fromHex(m, 32) as Uint8Array)
  }

  /**
   * Marks an instance delivered from outside RBC (a certified block obtained by sync): no further
   * votes are cast for it and late messages are ignored. Returns `floor` effects to persist.
   */
  markDelivered (round: number, creator: Uint8Array, hash: Uint8Array): Effect[] {
    const c = this.#creatorOf(creator)
    const effects: Effect[] = []
    if (c.closed(round) || c.decided.has(round)) return effects
    const inst = c.instances.get(round)
    c.decide(round, hash, inst?.proposalFor(hash))
    this.#trail(c, effects)
    return effects
  }

  /** The block content for a hash, if this node holds it for a live instance (to serve fetches). */
  knownBlock (round: number, creator: Uint8Array, hash: Uint8Array): Block | undefined {
    return this.#creators.get(toHex(creator))?.instances.get(round)?.blocks.get(toHex(hash))
  }

  /** Whether the instance has delivered (and which hash), while it is remembered. */
  delivered (round: number, creator: Uint8Array): Uint8Array | undefined {
    return this.#creators.get(toHex(creator))?.decided.get(round)?.hash
  }

  /** Whether nothing more can happen in this instance here: decided, or at or below the floor. */
  settled (round: number, creator: Uint8Array): boolean {
    const c = this.#creators.get(toHex(creator))
    return c == null || c.closed(round) || c.decided.has(round)
  }

  /** The creator's floor: every round ≤ it is closed. */
  floor (creator: Uint8Array): number {
    return this.#creators.get(toHex(creator))?.floor ?? 0
  }

  /** Echo and READY counts per hash, for diagnostics. */
  status (round: number, creator: Uint8Array): InstanceStatus | undefined {
    return this.#creators.get(toHex(creator))?.status(round)
  }

  /** Live (undelivered) instances: with a proposal or an own vote, and orphans. */
  get openInstances (): number {
    return creatorsStats(this.#creators.values()).live
  }

  stats (): MachineStats {
    const { live: _live, ...stats } = creatorsStats(this.#creators.values())
    return stats
  }

  /**
   * Drops orphan instances (no proposal, no own vote) that nothing touched since the previous
   * call; the driver calls it periodically. Returns how many were dropped.
   */
  pruneOrphans (): number {
    let dropped = 0
    for (const c of this.#creators.values()) dropped += c.pruneOrphans()
    return dropped
  }

  /** The live instance for (round, creator), created if the per-creator limits allow. */
  #instance (c: CreatorState, round: number, from: Uint8Array, byProposal: boolean, effects: Effect[]): Instance | undefined {
    const existing = c.instances.get(round)
    if (existing != null) {
      existing.touched = true
      return existing
    }
    if (byProposal && c.open.size >= this.#limits.maxOpenInstancesPerCreator) {
      effects.push({ type: 'reject', from, reason: `creator has ${this.#limits.maxOpenInstancesPerCreator} undelivered proposals already` })
      return undefined
    }
    if (!byProposal && c.orphans.size >= this.#limits.maxOrphansPerCreator) {
      effects.push({ type: 'defer', from, reason: 'too many rounds of this creator without a proposal' })
      return undefined
    }
    const inst = c.create(round)
    if (!byProposal) c.classify(inst)
    return inst
  }

  /** The creator of a vote, when the vote's round is still live; pushes why not otherwise. */
  #live (from: Uint8Array, round: number, creator: Uint8Array, effects: Effect[]): CreatorState | undefined {
    const c = this.#memberCreator(creator, round)
    if (c == null) {
      effects.push({ type: 'reject', from, reason: `creator is not in the committee of round ${round}` })
      return undefined
    }
    // late messages for decided or closed rounds are simply ignored
    if (c.closed(round) || c.decided.has(round)) return undefined
    return c
  }

  /** After a restart, re-send the votes this node persisted, once, when the instance comes alive. */
  #resend (c: CreatorState, inst: Instance, effects: Effect[]): void {
    if (inst.resent) return
    inst.resent = true
    if (inst.echo != null && !inst.echoedBy.has(this.#selfHex)) {
      effects.push({ type: 'broadcast', message: { type: 'echo', round: inst.round, creator: c.key, hash: inst.echo } })
      this.#countEcho(c, inst, this.#selfHex, inst.echo, effects)
    }
    if (inst.ready != null && !inst.readiedBy.has(this.#selfHex) && !c.decided.has(inst.round)) {
      const signature = this.#crypto.signReady(inst.round, c.key, inst.ready)
      effects.push({ type: 'broadcast', message: { type: 'ready', round: inst.round, creator: c.key, hash: inst.ready, signature } })
      this.#countReady(c, inst, this.#selfHex, inst.ready, signature, effects)
    }
  }

  #onPropose (from: Uint8Array, p: { block: Block, hash: Uint8Array, signature: Uint8Array }, valid: boolean, effects: Effect[]): void {
    const { header } = p.block
    if (!equalBytes(from, header.creator)) {
      effects.push({ type: 'reject', from, reason: 'PROPOSE not sent by the block creator' })
      return
    }
    const c = this.#memberCreator(header.creator, header.round)
    if (c == null) {
      effects.push({ type: 'reject', from, reason: `creator is not in the committee of round ${header.round}` })
      return
    }
    if (c.closed(header.round)) {
      effects.push({ type: 'reject', from, reason: `round ${header.round} is closed for this creator` })
      return
    }
    const h = toHex(p.hash)
    // cheap refusals first, before hashing the block: a flood of proposals costs little
    const existing = c.instances.get(header.round)
    if (existing != null) {
      if (existing.invalid.has(h)) {
        effects.push({ type: 'reject', from, reason: 'block failed validation' })
        return
      }
      if (existing.second != null && existing.proposalFor(p.hash) == null) {
        effects.push({ type: 'reject', from, reason: 'a third proposal for a slot that already holds equivocation evidence' })
        return
      }
      // a repeat of a block held here, votes already re-sent: nothing new
      if (existing.blocks.has(h) && existing.resent) return
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
    const proposal: Proposal = { hash: p.hash, signature: p.signature, header }
    const decided = c.decided.get(header.round)
    if (decided != null) {
      // a late proposal for a decided round: evidence if it conflicts with the one seen before
      if (!equalBytes(decided.hash, p.hash) && decided.proposal != null && !decided.evidence) {
        decided.evidence = true
        effects.push({ type: 'equivocation', round: header.round, creator: header.creator, first: decided.proposal, second: proposal })
      }
      return
    }
    const inst = this.#instance(c, header.round, from, true, effects)
    if (inst == null) return
    if (inst.first == null) {
      inst.first = proposal
      c.classify(inst)
    } else if (toHex(inst.first.hash) !== h && (inst.second == null || toHex(inst.second.hash) !== h)) {
      if (inst.second != null) {
        effects.push({ type: 'reject', from, reason: 'a third proposal for a slot that already holds equivocation evidence' })
        return
      }
      inst.second = proposal
      effects.push({ type: 'equivocation', round: header.round, creator: header.creator, first: inst.first, second: proposal })
    }
    this.#resend(c, inst, effects)
    if (inst.echo == null) {
      if (!valid) {
        inst.invalid.add(h)
        effects.push({ type: 'reject', from, reason: 'block failed validation' })
      } else if (!c.keepBlock(inst, h, p.block, this.#limits.maxOpenBytesPerCreator)) {
        effects.push({ type: 'reject', from, reason: `creator holds ${this.#limits.maxOpenBytesPerCreator} bytes of undelivered blocks already` })
      } else {
        inst.echo = p.hash
        c.classify(inst)
        effects.push({ type: 'persist-vote', vote: { round: inst.round, creator: c.key, kind: 'echo', hash: p.hash } })
        effects.push({ type: 'broadcast', message: { type: 'echo', round: inst.round, creator: c.key, hash: p.hash } })
        this.#countEcho(c, inst, this.#selfHex, p.hash, effects)
      }
    } else if (valid && (equalBytes(inst.echo, p.hash) || (inst.readies.get(h)?.size ?? 0) > this.#committee(inst.round).f)) {
      // the block this node echoed before a restart, or one its READYs certify: worth keeping
      c.keepBlock(inst, h, p.block, this.#limits.maxOpenBytesPerCreator)
    }
    this.#tryDeliver(c, inst, p.hash, effects)
  }

  #onEcho (from: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array, effects: Effect[]): void {
    const c = this.#live(from, round, creator, effects)
    if (c == null) return
    const inst = this.#instance(c, round, from, false, effects)
    if (inst == null) return
    this.#resend(c, inst, effects)
    this.#countEcho(c, inst, toHex(from), hash, effects)
  }

  #countEcho (c: CreatorState, inst: Instance, fromHex: string, hash: Uint8Array, effects: Effect[]): void {
    if (inst.echoedBy.has(fromHex)) return
    inst.echoedBy.add(fromHex)
    const h = toHex(hash)
    const set = inst.echoes.get(h) ?? new Set<string>()
    set.add(fromHex)
    inst.echoes.set(h, set)
    if (set.size >= this.#committee(inst.round).q) this.#sendReady(c, inst, hash, effects)
  }

  #onReady (from: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array, signature: Uint8Array, effects: Effect[]): void {
    const c = this.#live(from, round, creator, effects)
    if (c == null) return
    if (!this.#crypto.verifyReady(from, round, creator, hash, signature)) {
      effects.push({ type: 'reject', from, reason: 'bad READY signature' })
      return
    }
    const inst = this.#instance(c, round, from, false, effects)
    if (inst == null) return
    this.#resend(c, inst, effects)
    this.#countReady(c, inst, toHex(from), hash, signature, effects)
  }

  #countReady (c: CreatorState, inst: Instance, fromHex: string, hash: Uint8Array, signature: Uint8Array, effects: Effect[]): void {
    if (inst.readiedBy.has(fromHex)) this.#readyConflict(c, inst, fromHex, hash, signature, effects)
    if (inst.readiedBy.has(fromHex) || c.decided.has(inst.round)) return
    inst.readiedBy.add(fromHex)
    const h = toHex(hash)
    const votes = inst.readies.get(h) ?? new Map<string, Uint8Array>()
    votes.set(fromHex, signature)
    inst.readies.set(h, votes)
    // amplification: f+1 READYs include at least one honest node's
    const { f } = this.#committee(inst.round)
    if (votes.size >= f + 1) this.#sendReady(c, inst, hash, effects)
    if (votes.size >= f + 1 && !inst.blocks.has(h) && !inst.fetching.has(h) && !c.decided.has(inst.round)) {
      inst.fetching.add(h)
      effects.push({ type: 'fetch', round: inst.round, creator: c.key, hash, from: this.fetchCandidates(inst.round, c.key, hash) })
    }
    this.#tryDeliver(c, inst, hash, effects)
  }

  /** A second READY by one signer: if it names another hash, both signed statements are evidence (once per signer). */
  #readyConflict (c: CreatorState, inst: Instance, fromHex: string, hash: Uint8Array, signature: Uint8Array, effects: Effect[]): void {
    const first = fromHex === this.#selfHex ? undefined : inst.readyConflict(fromHex, hash)
    if (first == null) return
    effects.push({ type: 'ready-equivocation', round: inst.round, creator: c.key, signer: fromHex32(fromHex), first, second: { hash, signature } })
  }

  #sendReady (c: CreatorState, inst: Instance, hash: Uint8Array, effects: Effect[]): void {
    if (inst.readiedBy.has(this.#selfHex) || c.decided.has(inst.round)) return
    if (inst.ready != null && !equalBytes(inst.ready, hash)) return // signed another hash before: never conflict
    const persisted = inst.ready != null
    inst.ready = hash
    c.classify(inst)
    if (!persisted) effects.push({ type: 'persist-vote', vote: { round: inst.round, creator: c.key, kind: 'ready', hash } })
    const signature = this.#crypto.signReady(inst.round, c.key, hash)
    effects.push({ type: 'broadcast', message: { type: 'ready', round: inst.round, creator: c.key, hash, signature } })
    this.#countReady(c, inst, this.#selfHex, hash, signature, effects)
  }

  #tryDeliver (c: CreatorState, inst: Instance, hash: Uint8Array, effects: Effect[]): void {
    if (c.decided.has(inst.round)) return
    const h = toHex(hash)
    const votes = inst.readies.get(h)
    const block = inst.blocks.get(h)
    if (votes == null || votes.size < this.#committee(inst.round).q || block == null) return
    const signatures = [...votes].map(([signer, signature]) => ({ signer: fromHex(signer, 32) as Uint8Array, signature }))
    const proposal = inst.proposalFor(hash)
    c.decide(inst.round, hash, proposal)
    effects.push({ type: 'deliver', block, hash, signatures, proposalSignature: proposal?.signature })
    this.#trail(c, effects)
  }

  /** Keeps the creator's floor `decidedWindow` rounds behind its highest decided round. */
  #trail (c: CreatorState, effects: Effect[]): void {
    const floor = c.maxDecided - this.#limits.decidedWindow
    if (floor > c.floor) this.#raise(c, floor, effects)
  }

  #raise (c: CreatorState, floor: number, effects: Effect[]): void {
    const previous = c.floor
    c.raiseFloor(floor)
    effects.push({ type: 'floor', creator: c.key, floor, previous })
  }
}
