import type { CommitteeChangeJson, CommitteeDecisionJson } from '../../epochs/committee-chain.js'
import type { MembershipViewJson } from '../../epochs/membership-requests.js'
import type { CommitteeJson, CommitteeMemberJson } from '../../epochs/record.js'

const id = (committee: CommitteeJson): string => `${committee.membershipId.slice(0, 12)}…`
const who = (m: CommitteeMemberJson): string => `${m.name} (${m.publicKey.slice(0, 8)}…)`
const decision = (d: CommitteeDecisionJson): string => `${d.kind} ${who(d.member)}${d.kind === 'admitted' ? '' : `: ${d.reason}`}${d.evidenceHash != null ? ` [evidence ${d.evidenceHash.slice(0, 16)}…]` : ''}`
const time = (ms: number): string => new Date(ms).toISOString()

function changeLine (c: CommitteeChangeJson, epoch: number): string {
  const when = c.effectiveEpoch > epoch ? `scheduled for epoch ${c.effectiveEpoch}` : `in force since epoch ${c.effectiveEpoch}`
  return `  ${when} (decided at epoch ${c.decidedAt}): ${c.decisions.map(decision).join('; ') || 'no decisions'} → ${c.committee.members.length} members (${id(c.committee)})`
}

/**
 * The living committee as `ephemera contract status` prints it: the committee of the current
 * epoch, the changes kept (in force or scheduled) with their decisions, the queue, the staged
 * admissions and removals, missed epochs, drops, bans and the manual lock.
 */
export function membershipLines (view: MembershipViewJson): string[] {
  const { rules } = view
  const lines: string[] = []
  lines.push(`committee of epoch ${view.epoch}: ${view.committee.members.length} members (${id(view.committee)}): ${view.committee.members.map((m) => m.name).join(', ')}`)
  if (view.latest.membershipId !== view.committee.membershipId) lines.push(`newest committee (scheduled): ${view.latest.members.length} members (${id(view.latest)})`)
  lines.push(`manual lock: ${view.locked ? 'ON — no epoch commits until `ephemera contract unlock`' : 'off'}; admission ${rules.admission}, committee ${rules.minCommittee}–${rules.maxCommittee} members, drop after ${rules.dropAfterMissed === 0 ? 'never' : `${rules.dropAfterMissed} missed epochs`}, ban after ${rules.banAfterDrops === 0 ? 'never' : `${rules.banAfterDrops} drops`}`)
  const scheduled = view.changes.filter((c) => c.effectiveEpoch > view.epoch).length
  lines.push(`changes: ${view.changes.length === 0 ? 'none kept' : `${view.changes.length} kept, ${scheduled} scheduled`}`)
  for (const c of view.changes) lines.push(changeLine(c, view.epoch))
  lines.push(`queue: ${view.queue.length === 0 ? 'empty' : `${view.queue.length} of at most ${rules.maxQueue}`}`)
  view.queue.forEach((q, i) => { lines.push(`  ${i + 1}. ${who(q.member)} since ${time(q.joinedAt)}${q.member.multiaddrs != null ? ` at ${q.member.multiaddrs.join(' ')}` : ''}`) })
  lines.push(`staged for the next change: ${view.next.length === 0 && view.removals.length === 0 ? 'nothing' : `${view.next.length} admission${view.next.length === 1 ? '' : 's'}, ${view.removals.length} removal${view.removals.length === 1 ? '' : 's'}`}`)
  for (const q of view.next) lines.push(`  admit ${who(q.member)} (queued ${time(q.joinedAt)})`)
  for (const d of view.removals) lines.push(`  ${decision(d)}`)
  if (view.missed.length > 0) lines.push(`missed epochs in a row: ${view.missed.map((m) => `${m.member.name} ${m.count}`).join(', ')}`)
  if (view.drops.length > 0) {
    lines.push(`drops: ${view.drops.length}`)
    for (const d of view.drops) lines.push(`  ${who(d.member)}: dropped ${d.count} time${d.count === 1 ? '' : 's'}, last at epoch ${d.epoch}: ${d.reason}`)
  }
  lines.push(`bans: ${view.bans.length === 0 ? 'none' : view.bans.length}`)
  for (const b of view.bans) lines.push(`  ${who(b.member)}: by ${b.by} at epoch ${b.epoch}: ${b.reason}${b.evidenceHash != null ? `; evidence ${b.evidenceHash} (GET /contract/evidence/${b.evidenceHash})` : ''}`)
  return lines
}
