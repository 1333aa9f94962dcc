import type { CommitteeMemberJson } from '../../epochs/record.js'
import type { EpochSummaryJson, RoundViewJson, Snapshot } from './api.js'

/**
 * What the page shows, derived from one refresh (pure: no DOM, unit-tested): each known node's
 * status, the current phase, and the latency series.
 */

export type MemberState = 'active' | 'missing' | 'leaving' | 'joining' | 'queued' | 'dropped' | 'banned'

export interface MemberRow {
  name: string
  peerId: string
  publicKey: string
  state: MemberState
  /** One line: what the state means for this member now. */
  detail: string
  /** Consecutive missed epochs (members only). */
  missed: number
  /** Times dropped so far. */
  drops: number
  /** The latest epoch among the recent ones this member won, if any. */
  lastWin?: number
  /** A ban on evidence: its hash (GET /contract/evidence/{hash}). */
  evidenceHash?: string
}

/** Every node the coordinator knows now: members of the current committee, scheduled ones, the queue, the dropped and the banned. */
export function memberRows (s: Pick<Snapshot, 'membership' | 'epochs'>): MemberRow[] {
  const m = s.membership
  const rows = new Map<string, MemberRow>()
  const missed = new Map(m.missed.map((x) => [x.member.publicKey, x.count]))
  const drops = new Map(m.drops.map((d) => [d.member.publicKey, d]))
  const lastWin = new Map<string, number>()
  for (const e of s.epochs.epochs) if (e.status === 'committed' && e.winner != null && !lastWin.has(e.winner)) lastWin.set(e.winner, e.epoch)
  const add = (member: CommitteeMemberJson, state: MemberState, detail: string): void => {
    if (rows.has(member.publicKey)) return
    const win = lastWin.get(member.name)
    const evidenceHash = m.bans.find((b) => b.member.publicKey === member.publicKey)?.evidenceHash
    rows.set(member.publicKey, {
      name: member.name,
      peerId: member.peerId,
      publicKey: member.publicKey,
      state,
      detail,
      missed: missed.get(member.publicKey) ?? 0,
      drops: drops.get(member.publicKey)?.count ?? 0,
      ...(win != null ? { lastWin: win } : {}),
      ...(evidenceHash != null ? { evidenceHash } : {})
    })
  }
  for (const b of m.bans) add(b.member, 'banned', `banned at epoch ${b.epoch} (${b.by}): ${b.reason}`)
  const removals = new Map(m.removals.map((r) => [r.member.publicKey, r]))
  const latest = new Set(m.latest.members.map((x) => x.publicKey))
  const scheduled = m.changes.find((c) => c.effectiveEpoch > m.epoch)
  for (const member of m.committee.members) {
    const removal = removals.get(member.publicKey)
    const n = missed.get(member.publicKey) ?? 0
    if (removal != null) add(member, 'leaving', `${removal.kind} at the next change: ${removal.reason}`)
    else if (!latest.has(member.publicKey)) add(member, 'leaving', `out of the committee from epoch ${scheduled?.effectiveEpoch ?? '?'}`)
    else if (n > 0) add(member, 'missing', `missed the last ${n} epoch${n === 1 ? '' : 's'} (dropped after ${m.rules.dropAfterMissed})`)
    else add(member, 'active', 'member of the current committee')
  }
  for (const member of m.latest.members) add(member, 'joining', `member from epoch ${scheduled?.effectiveEpoch ?? '?'}`)
  for (const q of m.next) add(q.member, 'joining', 'admitted at the next change')
  for (const [i, q] of m.queue.entries()) add(q.member, 'queued', `waiting in the queue (position ${i + 1})`)
  for (const d of m.drops) add(d.member, 'dropped', `dropped at epoch ${d.epoch}: ${d.reason}`)
  return [...rows.values()]
}

/** The phase of the epoch that is running, and of each earlier epoch whose round is still open. */
export interface Phase {
  epoch: number
  /** 'running' for the current epoch (reports being gathered), else the round's progress. */
  label: string
  detail: string
  /** 0..1: elapsed share of the epoch, or verified share of the chunks. */
  progress: number
}

export function phases (s: Pick<Snapshot, 'now' | 'rounds' | 'membership'>, now: number): Phase[] {
  const e = s.now
  const names = new Map([...s.membership.committee.members, ...s.membership.latest.members].map((m) => [m.publicKey, m.name]))
  const elapsed = Math.min(1, Math.max(0, (now - e.startMs) / Math.max(1, e.endMs - e.startMs)))
  const current: Phase = { epoch: e.epoch, label: 'running', detail: `nodes gather reports; ends in ${formatMs(Math.max(0, e.endMs - now))}`, progress: elapsed }
  return [current, ...[...s.rounds].sort((a, b) => b.epoch - a.epoch).map((r) => roundPhase(r, names))]
}

function roundPhase (r: RoundViewJson, names: ReadonlyMap<string, string>): Phase {
  const p = r.progress
  const attempt = r.attempt > 0 ? `, attempt ${r.attempt + 1}` : ''
  if (r.blockHash == null) return { epoch: r.epoch, label: 'consensus', detail: `waiting for a certified block${attempt}`, progress: 0 }
  return {
    epoch: r.epoch,
    label: 'chunks',
    detail: `block ${r.blockHash.slice(0, 12)}… by ${r.blockBy == null ? '?' : names.get(r.blockBy) ?? `${r.blockBy.slice(0, 12)}…`}: ${p.contributed}/${p.chunks} chunks contributed, ${p.verified}/${p.chunks} verified${attempt}`,
    progress: p.chunks === 0 ? 0 : (p.contributed + p.verified) / (2 * p.chunks)
  }
}

/** The committed epochs' latencies (epoch end → commit), oldest first. */
export function latencySeries (epochs: readonly EpochSummaryJson[]): Array<{ epoch: number, latencyMs: number, at: number }> {
  return epochs.flatMap((e) => e.status === 'committed' && e.latencyMs != null ? [{ epoch: e.epoch, latencyMs: e.latencyMs, at: e.acceptedAt ?? e.endMs }] : [])
    .sort((a, b) => a.epoch - b.epoch)
}

/** 950 ms, 1.2 s, 3 min 5 s, 2 h 4 min. */
export function formatMs (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`
}
