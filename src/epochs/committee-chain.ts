import { membershipId } from '../block/encoding.js'
import type { Check } from '../block/verify.js'
import { fromHex, toHex } from '../codec/bytes.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { CommitteeJson, CommitteeMemberJson, EpochRecordJson } from './record.js'

/**
 * The committee's history (docs/PROTOCOL.md §7.8): the genesis committee, then a chain of changes,
 * each decided at the commit of one epoch's record, carried by that record, and in force from a
 * later epoch. Anyone re-derives the committee of every epoch from genesis and the records.
 */

export type DecisionKind = 'admitted' | 'left' | 'dropped' | 'banned'

export interface CommitteeDecisionJson {
  kind: DecisionKind
  member: CommitteeMemberJson
  reason: string
  /** A ban on evidence: the evidence's hash (GET /contract/evidence/{hash}). */
  evidenceHash?: string
}

export interface CommitteeChangeJson {
  /** The first epoch whose committee this is. */
  effectiveEpoch: number
  /** The epoch whose record's commit decided the change (the record that carries it). */
  decidedAt: number
  /** The membership id of the committee before the change. */
  previousMembershipId: string
  /** Removals first, then admissions; each key at most once. */
  decisions: CommitteeDecisionJson[]
  /** The committee from effectiveEpoch on: members sorted by public key. */
  committee: CommitteeJson
}

/** Hex membership id of a set of hex public keys (§2.3). */
export function membershipIdOf (publicKeys: readonly string[]): string {
  return toHex(membershipId(publicKeys.map((k) => fromHex(k, 32) ?? new Uint8Array(0))))
}

const ADDS: ReadonlySet<DecisionKind> = new Set(['admitted'])

/** The committee after `decisions`: removals taken out, admissions added, sorted by public key. Throws on an inconsistent list. */
export function applyDecisions (previous: CommitteeJson, decisions: readonly CommitteeDecisionJson[]): CommitteeJson {
  const members = new Map(previous.members.map((m) => [m.publicKey, m]))
  const seen = new Set<string>()
  for (const d of decisions) {
    const key = d.member.publicKey
    if (seen.has(key)) throw new EphemeraError(ErrorCode.BAD_REQUEST, `${d.member.name} (${key.slice(0, 16)}…) appears twice in one committee change`)
    seen.add(key)
    if (ADDS.has(d.kind)) {
      if (members.has(key)) throw new EphemeraError(ErrorCode.BAD_REQUEST, `${d.member.name} is admitted but already a member`)
      members.set(key, d.member)
    } else {
      if (!members.has(key)) throw new EphemeraError(ErrorCode.BAD_REQUEST, `${d.member.name} is ${d.kind} but not a member`)
      members.delete(key)
    }
  }
  const sorted = [...members.values()].sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0))
  return { membershipId: membershipIdOf(sorted.map((m) => m.publicKey)), members: sorted }
}

/** Two committees are the same when their key sets (and so membership ids) are. */
export function sameCommittee (a: CommitteeJson, b: CommitteeJson): boolean {
  if (a.membershipId !== b.membershipId || a.members.length !== b.members.length) return false
  const keys = new Set(a.members.map((m) => m.publicKey))
  return b.members.every((m) => keys.has(m.publicKey))
}

/** The committee in force at `epoch`: the last change effective at or before it, or genesis. `changes` sorted by effectiveEpoch. */
export function committeeAt (genesis: CommitteeJson, changes: readonly CommitteeChangeJson[], epoch: number): CommitteeJson {
  let committee = genesis
  for (const c of changes) {
    if (c.effectiveEpoch > epoch) break
    committee = c.committee
  }
  return committee
}

/** Why `change` does not follow from `previous` (the committee before it), if it does not. */
export function changeProblem (previous: CommitteeJson, change: CommitteeChangeJson): string | undefined {
  if (change.previousMembershipId !== previous.membershipId) return `it changes committee ${change.previousMembershipId.slice(0, 16)}…, but the committee before it is ${previous.membershipId.slice(0, 16)}…`
  if (change.effectiveEpoch < change.decidedAt + 2) return `decided at epoch ${change.decidedAt}, it cannot be in force before epoch ${change.decidedAt + 2} (it says ${change.effectiveEpoch})`
  let derived: CommitteeJson
  try {
    derived = applyDecisions(previous, change.decisions)
  } catch (err) {
    return (err as Error).message
  }
  if (!sameCommittee(derived, change.committee)) return `its decisions give committee ${derived.membershipId.slice(0, 16)}…, not the ${change.committee.membershipId.slice(0, 16)}… it names`
  if (change.committee.membershipId !== membershipIdOf(change.committee.members.map((m) => m.publicKey))) return 'its membership id does not match its members'
  return undefined
}

/**
 * Re-derives the committee of every record's epoch from genesis and the changes the records
 * carry, and checks each record names the committee that follows. `records` are all published
 * records (any order); a missing record that carried a change shows as a broken chain.
 */
export function committeeChainChecks (genesis: CommitteeJson, records: readonly EpochRecordJson[]): Check[] {
  const checks: Check[] = []
  const changes = records.flatMap((r) => r.committeeChange == null ? [] : [{ change: r.committeeChange, carriedBy: r.epoch }])
    .sort((a, b) => a.change.effectiveEpoch - b.change.effectiveEpoch)
  let previous = genesis
  let lastEffective = 0
  for (const { change, carriedBy } of changes) {
    const name = `committee change in force from epoch ${change.effectiveEpoch}`
    const problem = change.decidedAt !== carriedBy
      ? `carried by the record of epoch ${carriedBy}, but it says it was decided at ${change.decidedAt}`
      : change.effectiveEpoch === lastEffective ? 'a second change for the same epoch' : changeProblem(previous, change)
    checks.push({ name, ok: problem == null, detail: problem ?? `${change.decisions.map((d) => `${d.kind} ${d.member.name}`).join(', ') || 'no decisions'} → ${change.committee.members.length} members` })
    previous = change.committee
    lastEffective = change.effectiveEpoch
  }
  const ordered = changes.map((c) => c.change)
  for (const record of [...records].sort((a, b) => a.epoch - b.epoch)) {
    const expected = committeeAt(genesis, ordered, record.epoch)
    const ok = sameCommittee(expected, record.committee)
    checks.push({
      name: `committee of epoch ${record.epoch}`,
      ok,
      detail: ok ? `${expected.members.length} members (${expected.membershipId.slice(0, 16)}…)` : `the record names committee ${record.committee.membershipId.slice(0, 16)}…, but genesis and the published changes give ${expected.membershipId.slice(0, 16)}…`
    })
  }
  return checks
}
