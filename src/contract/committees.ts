import type { VerifyFn } from '../block/validate.js'
import { peerIdOf } from '../block/json.js'
import { fromHex } from '../codec/bytes.js'
import type { CommitteeChangeJson } from '../epochs/committee-chain.js'
import type { CommitteeJson, CommitteeMemberJson, ParametersJson } from '../epochs/record.js'
import type { ChunkCheckContext } from './chunk-checks.js'
import { Membership, type BanJson, type MembershipEvent, type MembershipRules } from './membership.js'
import type { CoordinatorStore, GenesisRound, StoredEvidence } from './store.js'
import type { ChunkRange } from '../epochs/chunks.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { falseStatement } from './false-statements.js'
import type { RoundEvent, RoundState } from './round.js'

/** One epoch's committee as the coordinator uses it: rotation order, lookup, and the checks' context. */
export interface EpochCommittee {
  committee: CommitteeJson
  /** public keys (hex), sorted: the order of every rotation */
  sorted: string[]
  members: ReadonlyMap<string, CommitteeMemberJson>
  /** The aggregation parameters of the epoch (the threshold may follow the committee's size). */
  parameters: ParametersJson
  checks: ChunkCheckContext
}

/** Views kept per committee (membership id); older ones are rebuilt on demand. */
const MAX_VIEWS = 16

/**
 * The coordinator's side of the living committee: the Membership state (pure, src/contract/
 * membership.ts), its persistence, and the committee of each epoch. Callers serialise access
 * (the Coordinator's queue).
 */
export class Committees {
  readonly #store: CoordinatorStore
  readonly #parametersFor: (size: number) => ParametersJson
  readonly #verify: VerifyFn
  readonly #onEvent: (event: MembershipEvent) => void
  readonly #onEvidence: ((evidence: StoredEvidence, ban: BanJson | undefined) => void) | undefined
  readonly #rules: MembershipRules
  readonly #genesis: CommitteeJson
  readonly #views = new Map<string, EpochCommittee>()
  #membership: Membership

  constructor (genesis: CommitteeJson, rules: MembershipRules, deps: { store: CoordinatorStore, parametersFor: (size: number) => ParametersJson, verify: VerifyFn, onEvent?: (event: MembershipEvent) => void, onEvidence?: (evidence: StoredEvidence, ban: BanJson | undefined) => void }) {
    this.#genesis = genesis
    this.#rules = rules
    this.#store = deps.store
    this.#parametersFor = deps.parametersFor
    this.#verify = deps.verify
    this.#onEvent = deps.onEvent ?? (() => {})
    this.#onEvidence = deps.onEvidence
    this.#membership = new Membership(rules, Membership.genesis(genesis))
  }

  /** Loads the stored state (or starts from the genesis committee). */
  async load (): Promise<void> {
    const stored = await this.#store.membership()
    this.#membership = new Membership(this.#rules, stored ?? Membership.genesis(this.#genesis))
    this.#views.clear()
    this.#lastBans = new Set(this.#membership.bans.flatMap((b) => b.evidenceHash == null ? [] : [b.evidenceHash]))
  }

  get membership (): Membership {
    return this.#membership
  }

  /** The aggregation parameters of a committee (its size decides the threshold). */
  parametersOf (committee: CommitteeJson): ParametersJson {
    return this.#parametersFor(committee.members.length)
  }

  /** The committee of `epoch`. */
  at (epoch: number): EpochCommittee {
    const committee = this.#membership.committeeAt(epoch)
    let view = this.#views.get(committee.membershipId)
    if (view == null) {
      const parameters = this.#parametersFor(committee.members.length)
      view = {
        committee,
        sorted: committee.members.map((m) => m.publicKey).sort(),
        members: new Map(committee.members.map((m) => [m.publicKey, m])),
        parameters,
        checks: { committee, parameters, verify: this.#verify }
      }
      if (this.#views.size >= MAX_VIEWS) this.#views.delete(this.#views.keys().next().value as string)
      this.#views.set(committee.membershipId, view)
    }
    return view
  }

  /**
   * Who may sign requests: a member of the committee of any of `epochs` or of the newest one, a
   * queued or staged validator, or (when `anyone`, for addToQueue) any key; never a banned one.
   */
  lookup (key: string, epochs: readonly number[], anyone: boolean): CommitteeMemberJson | undefined {
    if (this.#membership.ban(key) != null) return undefined
    for (const epoch of epochs) {
      const m = this.at(epoch).members.get(key)
      if (m != null) return m
    }
    const registered = this.#membership.registered(key)
    if (registered != null) return registered
    if (!anyone) return undefined
    const bytes = fromHex(key, 32)
    return bytes == null ? undefined : { name: key.slice(0, 12), peerId: peerIdOf(bytes), publicKey: key }
  }

  /** Stores the state (synced), with evidence to add and the evidence of bans that were forgotten; reports the events. */
  async save (evidence?: StoredEvidence): Promise<void> {
    const kept = new Set(this.#membership.bans.flatMap((b) => b.evidenceHash == null ? [] : [b.evidenceHash]))
    await this.#store.saveMembership(this.#membership.toJson(), { add: evidence, remove: this.#forgotten(kept) })
    this.#flush()
    if (evidence != null) this.#onEvidence?.(evidence, this.#membership.ban(evidence.offender))
  }

  /** The changed state to put in a commit batch (events are reported once the batch is written: call committed()). */
  forCommit (): ReturnType<Membership['toJson']> {
    return this.#membership.toJson()
  }

  /** After a commit batch that carried the state. */
  committed (change: CommitteeChangeJson | undefined): void {
    if (change != null) this.#views.clear()
    this.#flush()
  }

  /** False chunk statements caught in the current request: banned at once, stored by banCaught(). */
  readonly #caught: StoredEvidence[] = []

  /** A signed chunk request that contradicts the round's certified block is evidence: its signer is banned (src/contract/false-statements.ts). */
  catchFalse (at: { round: RoundState, chunk: ChunkRange, signer: CommitteeMemberJson, now: number, epoch: number }, request: Parameters<typeof falseStatement>[1]): void {
    const { committee, parameters } = this.at(at.round.epoch)
    const evidence = falseStatement({ ...at, committee, parameters, verify: this.#verify }, request)
    if (evidence == null) return
    const reason = `${(evidence.evidence as { kind: string }).kind} for chunk ${at.chunk.index} of epoch ${at.round.epoch}`
    if (this.#membership.banKey(at.signer, { by: 'evidence', reason, epoch: at.epoch, evidenceHash: evidence.hash })) this.#caught.push(evidence)
  }

  /**
   * update()'s committee step, in the seed's order: drops, bans on repeated drops, admissions from
   * the queue; then forgets changes no open epoch needs. Stores the state if it (or `changed`) changed.
   */
  async tick (current: number, finalizationEpochs: number, changed: boolean): Promise<void> {
    let dirty = this.#membership.update(current) || changed
    dirty = this.#membership.prune(current - finalizationEpochs - 1) || dirty
    if (dirty) await this.save()
  }

  /** The evidence behind a ban (kept as long as the ban). */
  async evidence (hash: string): Promise<StoredEvidence | undefined> {
    return await this.#store.evidence(hash)
  }

  /** Round 0: the genesis committee and parameters. */
  async genesisRound (): Promise<GenesisRound | undefined> {
    return await this.#store.genesisRound()
  }

  /** Stores the bans catchFalse() made, with their evidence. */
  async banCaught (): Promise<void> {
    for (const evidence of this.#caught.splice(0)) await this.save(evidence)
  }

  /** A banned key takes no part in rounds (the request gate refuses it too). */
  refuseBanned (node: CommitteeMemberJson): void {
    const ban = this.#membership.ban(node.publicKey)
    if (ban != null) throw new EphemeraError(ErrorCode.BANNED, `${node.name} is banned: ${ban.reason}`)
  }

  /** A round's new events: leases let expire count as missed epochs; a rollback or failure returns the staged admissions to the queue. Whether anything changed. */
  noteRoundEvents (round: RoundState, events: readonly RoundEvent[]): boolean {
    let changed = false
    for (const e of events) {
      if (e.kind === 'lease-expired' && e.member != null) {
        this.#membership.noteMissed(e.member, round.epoch)
        changed = true
      }
      if ((e.kind === 'rollback' || e.kind === 'failed') && this.#membership.next.length > 0) {
        this.#membership.rollback()
        changed = true
      }
    }
    return changed
  }

  #lastBans = new Set<string>()

  /** Evidence hashes of bans that existed at the last save and are gone now (unbanned or forgotten). */
  #forgotten (kept: ReadonlySet<string>): string[] {
    const gone = [...this.#lastBans].filter((h) => !kept.has(h))
    this.#lastBans = new Set(kept)
    return gone
  }

  #flush (): void {
    for (const e of this.#membership.takeEvents()) this.#onEvent(e)
  }
}
