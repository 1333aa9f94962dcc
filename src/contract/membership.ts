import { applyDecisions, committeeAt, type CommitteeChangeJson, type CommitteeDecisionJson, type DecisionKind } from '../epochs/committee-chain.js'
import type { CommitteeJson, CommitteeMemberJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

/**
 * The living committee (the phase2-coordinator's queue, drops and bans, mapped onto epochs): pure
 * state and transitions, no I/O and no clock of its own (times are passed in). The coordinator
 * persists toJson() after every change and commits a change with the record that decides it.
 *
 *   queue ──admit (update)──▶ next ──commit of an epoch's record──▶ committee from epoch E
 *     ▲                         │
 *     └──────── rollback ───────┘   (an epoch's round rolled back or failed)
 *
 * Removals (left, dropped, banned) are staged likewise and applied by the same commit. A change
 * decided while epoch c runs is in force from epoch c + 2 (and after the previous change), so
 * every node knows the committee of an epoch at least one whole epoch before it starts.
 */

export interface AdmissionPolicy {
  /** allowlist: only these keys (hex) may queue; open: anyone, up to maxQueue. */
  mode: 'allowlist' | 'open'
  allowlist: readonly string[]
  maxQueue: number
}

export interface MembershipRules {
  minCommittee: number
  maxCommittee: number
  /** Drop a member after this many consecutive missed epochs (0: never). */
  dropAfterMissed: number
  /** Ban a key dropped more than this many times (0: never). */
  banAfterDrops: number
  admission: AdmissionPolicy
  /** Ban records kept (the oldest is forgotten beyond it). */
  maxBans: number
  /** Drop histories kept (the least recent is forgotten beyond it). */
  maxDropRecords: number
}

/** Rules that keep the genesis committee unless evidence or the operator bans a member: nobody may queue, nobody is dropped. */
export function closedMembershipRules (genesisSize: number): MembershipRules {
  return { minCommittee: genesisSize, maxCommittee: Math.max(genesisSize, 100), dropAfterMissed: 0, banAfterDrops: 0, admission: { mode: 'allowlist', allowlist: [], maxQueue: 64 }, maxBans: 1000, maxDropRecords: 1024 }
}

export interface QueueEntryJson {
  member: CommitteeMemberJson
  /** When it (re)joined the queue (ms since the Unix epoch): admission order. */
  joinedAt: number
}

export interface DropRecordJson {
  member: CommitteeMemberJson
  count: number
  /** The epoch of the last drop, and why. */
  epoch: number
  reason: string
}

export interface BanJson {
  member: CommitteeMemberJson
  by: 'evidence' | 'drops' | 'admin'
  reason: string
  /** The epoch running when it was decided. */
  epoch: number
  evidenceHash?: string
}

export interface MembershipJson {
  genesis: CommitteeJson
  /** Changes in force or scheduled, by effective epoch (old ones pruned; `base` is the committee before the first kept). */
  changes: CommitteeChangeJson[]
  base: CommitteeJson
  queue: QueueEntryJson[]
  next: QueueEntryJson[]
  removals: CommitteeDecisionJson[]
  /** Consecutive missed epochs of current members: key → count and the last epoch counted. */
  missed: Record<string, { count: number, epoch: number }>
  drops: Record<string, DropRecordJson>
  bans: Record<string, BanJson>
  /** Manual lock (operator): rounds are not advanced while it is on. */
  locked: boolean
}

/** What happened, for the audit log and the status view. */
export interface MembershipEvent {
  kind: 'queued' | 'unqueued' | 'staged' | 'returned-to-queue' | 'committed' | 'banned' | 'unbanned' | 'lock' | 'unlock' | 'waiting'
  detail: string
  /** committed: the kind of each decision of the change (for metrics) */
  decisions?: DecisionKind[]
}

export class Membership {
  readonly rules: MembershipRules
  #s: MembershipJson
  #events: MembershipEvent[] = []

  constructor (rules: MembershipRules, state: MembershipJson) {
    this.rules = rules
    this.#s = state
  }

  static genesis (committee: CommitteeJson): MembershipJson {
    return { genesis: committee, changes: [], base: committee, queue: [], next: [], removals: [], missed: {}, drops: {}, bans: {}, locked: false }
  }

  toJson (): MembershipJson {
    return this.#s
  }

  /** Events since the last call (for the audit log). */
  takeEvents (): MembershipEvent[] {
    const out = this.#events
    this.#events = []
    return out
  }

  #event (kind: MembershipEvent['kind'], detail: string, decisions?: DecisionKind[]): void {
    this.#events.push(decisions == null ? { kind, detail } : { kind, detail, decisions })
  }

  get locked (): boolean {
    return this.#s.locked
  }

  get genesisCommittee (): CommitteeJson {
    return this.#s.genesis
  }

  /** The committee of `epoch` (every epoch since genesis that is not pruned). */
  committeeAt (epoch: number): CommitteeJson {
    return committeeAt(this.#s.base, this.#s.changes, epoch)
  }

  /** The newest committee: in force, or scheduled (what the next change applies to). */
  get latest (): CommitteeJson {
    return this.#s.changes.at(-1)?.committee ?? this.#s.base
  }

  get changes (): readonly CommitteeChangeJson[] {
    return this.#s.changes
  }

  get queue (): readonly QueueEntryJson[] {
    return this.#s.queue
  }

  get next (): readonly QueueEntryJson[] {
    return this.#s.next
  }

  get removals (): readonly CommitteeDecisionJson[] {
    return this.#s.removals
  }

  ban (key: string): BanJson | undefined {
    return this.#s.bans[key]
  }

  get bans (): BanJson[] {
    return Object.values(this.#s.bans)
  }

  get drops (): DropRecordJson[] {
    return Object.values(this.#s.drops)
  }

  missed (key: string): number {
    return this.#s.missed[key]?.count ?? 0
  }

  /** A key the coordinator knows: a member of the newest committee, queued or staged. */
  registered (key: string): CommitteeMemberJson | undefined {
    return this.latest.members.find((m) => m.publicKey === key) ??
      this.#s.queue.find((q) => q.member.publicKey === key)?.member ??
      this.#s.next.find((q) => q.member.publicKey === key)?.member
  }

  // ---- requests from validators -----------------------------------------------------------

  /** addToQueue: a validator asks to join the committee. Idempotent (a second call updates its name and addresses). */
  addToQueue (member: CommitteeMemberJson, now: number): { status: 'member' | 'queued' | 'staged', position?: number } {
    const key = member.publicKey
    const ban = this.#s.bans[key]
    if (ban != null) throw new EphemeraError(ErrorCode.BANNED, `${member.name} is banned (${ban.by}: ${ban.reason})`, { response: { ban } })
    const removal = this.#s.removals.find((d) => d.member.publicKey === key)
    if (this.latest.members.some((m) => m.publicKey === key) && removal == null) return { status: 'member' }
    if (removal != null) {
      // it changed its mind before the change took effect: it stays
      if (removal.kind === 'banned') throw new EphemeraError(ErrorCode.BANNED, `${member.name} is being banned: ${removal.reason}`)
      this.#s.removals = this.#s.removals.filter((d) => d !== removal)
      this.#event('staged', `${member.name} stays in the committee (its ${removal.kind} is withdrawn)`)
      return { status: 'member' }
    }
    const staged = this.#s.next.find((q) => q.member.publicKey === key)
    if (staged != null) {
      staged.member = member
      return { status: 'staged' }
    }
    const { admission } = this.rules
    // genesis members and dropped members may always come back (unless banned)
    const known = this.#s.genesis.members.some((m) => m.publicKey === key) || this.#s.drops[key] != null
    if (admission.mode === 'allowlist' && !known && !admission.allowlist.includes(key)) {
      throw new EphemeraError(ErrorCode.FORBIDDEN, `${member.name} (${key.slice(0, 16)}…) is not on this coordinator's allowlist (membership.allowlist)`)
    }
    const queued = this.#s.queue.findIndex((q) => q.member.publicKey === key)
    if (queued >= 0) {
      (this.#s.queue[queued] as QueueEntryJson).member = member
      return { status: 'queued', position: queued + 1 }
    }
    if (this.#s.queue.length >= admission.maxQueue) throw new EphemeraError(ErrorCode.QUEUE_FULL, `the queue is full (${admission.maxQueue} validators wait); try again later`)
    this.#s.queue.push({ member, joinedAt: now })
    this.#event('queued', `${member.name} joined the queue (position ${this.#s.queue.length})`)
    return { status: 'queued', position: this.#s.queue.length }
  }

  /** removeFromQueue: a queued validator leaves the queue, or a member leaves the committee at the next change. */
  removeFromQueue (key: string): { status: 'unqueued' | 'leaving' } {
    for (const list of ['queue', 'next'] as const) {
      const entry = this.#s[list].find((q) => q.member.publicKey === key)
      if (entry != null) {
        this.#s[list] = this.#s[list].filter((q) => q !== entry)
        this.#event('unqueued', `${entry.member.name} left the ${list === 'queue' ? 'queue' : 'staged admissions'}`)
        return { status: 'unqueued' }
      }
    }
    const member = this.latest.members.find((m) => m.publicKey === key)
    if (member == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `${key.slice(0, 16)}… is neither queued nor a member of the committee`)
    if (this.#s.removals.some((d) => d.member.publicKey === key)) return { status: 'leaving' }
    if (this.#sizeAfterChange() - 1 < this.rules.minCommittee) {
      throw new EphemeraError(ErrorCode.COMMITTEE_SIZE, `${member.name} cannot leave now: the committee would have fewer than ${this.rules.minCommittee} members (membership.min_committee); it can once another validator is admitted`)
    }
    this.#s.removals.push({ kind: 'left', member, reason: 'asked to leave' })
    this.#event('staged', `${member.name} leaves the committee at the next change`)
    return { status: 'leaving' }
  }

  // ---- what the epochs show ----------------------------------------------------------------

  /**
   * Counts an epoch for the members of its committee: those whose report is in the committed
   * record start over; the others missed it (once per epoch, however many leases they let expire).
   */
  noteCommitted (epoch: number, committee: CommitteeJson, reporters: ReadonlySet<string>): void {
    for (const m of committee.members) {
      if (reporters.has(m.publicKey)) delete this.#s.missed[m.publicKey]
      else this.noteMissed(m.publicKey, epoch)
    }
  }

  /** A member missed `epoch` (no report in its record, or a lease it let expire); counted once per epoch. */
  noteMissed (key: string, epoch: number): void {
    if (!this.latest.members.some((m) => m.publicKey === key)) return
    const seen = this.#s.missed[key]
    if (seen != null && seen.epoch >= epoch) return
    this.#s.missed[key] = { count: (seen?.count ?? 0) + 1, epoch }
  }

  // ---- bans ---------------------------------------------------------------------------------

  /** Bans a key (evidence, drop count or the operator): refused from now on, out of the committee at the next change. */
  banKey (member: CommitteeMemberJson, ban: Omit<BanJson, 'member'>): boolean {
    const key = member.publicKey
    if (this.#s.bans[key] != null) return false
    this.#s.bans[key] = { member, ...ban }
    this.#forgetOldest(this.#s.bans, this.rules.maxBans, (b) => b.epoch)
    this.#s.queue = this.#s.queue.filter((q) => q.member.publicKey !== key)
    this.#s.next = this.#s.next.filter((q) => q.member.publicKey !== key)
    this.#s.removals = this.#s.removals.filter((d) => d.member.publicKey !== key)
    const current = this.latest.members.find((m) => m.publicKey === key)
    // a ban always applies, even below the minimum size: an equivocator must go
    if (current != null) this.#s.removals.push({ kind: 'banned', member: current, reason: ban.reason, ...(ban.evidenceHash != null ? { evidenceHash: ban.evidenceHash } : {}) })
    this.#event('banned', `${member.name} banned (${ban.by}): ${ban.reason}`)
    return true
  }

  unban (key: string): BanJson {
    const ban = this.#s.bans[key]
    if (ban == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `${key.slice(0, 16)}… is not banned`)
    delete this.#s.bans[key]
    delete this.#s.drops[key]
    // not yet applied: the member stays
    this.#s.removals = this.#s.removals.filter((d) => !(d.kind === 'banned' && d.member.publicKey === key))
    this.#event('unbanned', `${ban.member.name} unbanned; it may queue again`)
    return ban
  }

  setLocked (locked: boolean): void {
    if (this.#s.locked === locked) return
    this.#s.locked = locked
    this.#event(locked ? 'lock' : 'unlock', locked ? 'manual lock on: rounds are not advanced' : 'manual lock off')
  }

  // ---- update(): drops, drop bans, admissions, in this order --------------------------------

  /** Stages what the next change will do; true when anything changed. */
  update (epoch: number): boolean {
    const dropped = this.#stageDrops(epoch)
    const banned = this.#banRepeatedDrops(epoch)
    const admitted = this.#admit()
    return dropped || banned || admitted
  }

  #sizeAfterChange (): number {
    return this.latest.members.length - this.#s.removals.length + this.#s.next.length
  }

  #stageDrops (epoch: number): boolean {
    const k = this.rules.dropAfterMissed
    if (k <= 0) return false
    let staged = false
    for (const m of this.latest.members) {
      if ((this.#s.missed[m.publicKey]?.count ?? 0) < k || this.#s.removals.some((d) => d.member.publicKey === m.publicKey)) continue
      if (this.#sizeAfterChange() - 1 < this.rules.minCommittee) {
        this.#event('waiting', `${m.name} missed ${k} epochs in a row but stays: the committee is at its minimum size (${this.rules.minCommittee})`)
        continue
      }
      const reason = `missed ${this.#s.missed[m.publicKey]?.count ?? k} consecutive epochs`
      this.#s.removals.push({ kind: 'dropped', member: m, reason })
      const d = this.#s.drops[m.publicKey]
      this.#s.drops[m.publicKey] = { member: m, count: (d?.count ?? 0) + 1, epoch, reason }
      this.#forgetOldest(this.#s.drops, this.rules.maxDropRecords, (r) => r.epoch)
      this.#event('staged', `${m.name} dropped from the next committee: ${reason}`)
      staged = true
    }
    return staged
  }

  #banRepeatedDrops (epoch: number): boolean {
    const limit = this.rules.banAfterDrops
    if (limit <= 0) return false
    let banned = false
    for (const d of Object.values(this.#s.drops)) {
      if (d.count > limit && this.#s.bans[d.member.publicKey] == null) {
        banned = this.banKey(d.member, { by: 'drops', reason: `dropped ${d.count} times (more than ${limit})`, epoch }) || banned
      }
    }
    return banned
  }

  #admit (): boolean {
    this.#s.queue.sort((a, b) => a.joinedAt - b.joinedAt)
    const before = this.#s.next.length
    while (this.#s.queue.length > 0 && this.#sizeAfterChange() < this.rules.maxCommittee) {
      // it keeps its join time: a rollback puts it back where it was
      const entry = this.#s.queue.shift() as QueueEntryJson
      this.#s.next.push(entry)
      this.#event('staged', `${entry.member.name} admitted into the next committee`)
    }
    return this.#s.next.length !== before
  }

  // ---- the change, with an epoch's commit ---------------------------------------------------

  /**
   * The change the commit of `decidedAt`'s record makes (applied here; the coordinator stores it
   * in the same batch as the record), or undefined when nothing is staged or the result would be
   * smaller than the minimum without a ban. In force from `current + 2`, after the last change.
   */
  commitChange (decidedAt: number, current: number): CommitteeChangeJson | undefined {
    if (this.#s.removals.length === 0 && this.#s.next.length === 0) return undefined
    const onlyBans = this.#s.removals.every((d) => d.kind === 'banned')
    if (this.#sizeAfterChange() < this.rules.minCommittee && !(onlyBans && this.#s.next.length === 0)) return undefined
    const previous = this.latest
    const decisions: CommitteeDecisionJson[] = [
      ...this.#s.removals,
      ...this.#s.next.map((q): CommitteeDecisionJson => ({ kind: 'admitted', member: q.member, reason: 'admitted from the queue' }))
    ]
    const effectiveEpoch = Math.max(current + 2, decidedAt + 2, (this.#s.changes.at(-1)?.effectiveEpoch ?? 0) + 1)
    const change: CommitteeChangeJson = { effectiveEpoch, decidedAt, previousMembershipId: previous.membershipId, decisions, committee: applyDecisions(previous, decisions) }
    this.#s.changes.push(change)
    for (const d of this.#s.removals) delete this.#s.missed[d.member.publicKey]
    this.#s.removals = []
    this.#s.next = []
    this.#event('committed', `committee of epoch ${effectiveEpoch} on: ${change.committee.members.length} members (${decisions.map((d) => `${d.kind} ${d.member.name}`).join(', ')})`, decisions.map((d) => d.kind))
    return change
  }

  /** A round rolled back or failed: the staged admissions go back to the front of the queue. */
  rollback (): void {
    if (this.#s.next.length === 0) return
    const names = this.#s.next.map((q) => q.member.name).join(', ')
    this.#s.queue = [...this.#s.next, ...this.#s.queue].slice(0, Math.max(this.rules.admission.maxQueue, this.#s.next.length))
    this.#s.next = []
    this.#event('returned-to-queue', `the staged admissions (${names}) return to the queue`)
  }

  /**
   * Forgets changes no open epoch can need: those replaced by a later change in force at or
   * before `oldestNeeded` (the oldest epoch still within its finalization window).
   */
  prune (oldestNeeded: number): boolean {
    let pruned = false
    while ((this.#s.changes[1]?.effectiveEpoch ?? Infinity) <= oldestNeeded) {
      this.#s.base = (this.#s.changes.shift() as CommitteeChangeJson).committee
      pruned = true
    }
    return pruned
  }

  #forgetOldest<T> (map: Record<string, T>, max: number, age: (t: T) => number): void {
    const keys = Object.keys(map)
    if (keys.length <= max) return
    const oldest = keys.sort((a, b) => age(map[a] as T) - age(map[b] as T)).slice(0, keys.length - max)
    for (const k of oldest) delete map[k]
  }
}
