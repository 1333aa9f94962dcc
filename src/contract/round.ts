import type { ChunkRange, ChunkRecordJson } from '../epochs/chunks.js'
import type { Anchor, ChunkState, Contribution, Lease, RoundEvent, RoundState, Verification } from '../epochs/round-types.js'
import { chunkVerifiers, leaseHolder } from '../epochs/rotation.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

export type { Anchor, ChunkState, Contribution, Lease, RoundEvent, RoundState, RoundStatus, Verification } from '../epochs/round-types.js'

/**
 * One epoch's round at the coordinator, as data (JSON, stored as is), and its transitions. Pure:
 * time comes in as `now`, members as their sorted public keys (hex); the Coordinator persists the
 * state after each transition. The phases, after the phase2-coordinator's round:
 *
 *   open ──(every chunk contributed and verified; tryAdvance commits)──▶ committed
 *     │  ▲
 *     │  └─ rollback at the attempt deadline (contributions, verifications and leases cleared;
 *     │     the next round attempt rotates holders and verifiers)
 *     └──(finalization deadline passed)──▶ failed (with the reason)
 *
 * An attempt's clocks start with its first contribution (which brings the certified block): until
 * a member holds a certified block nobody can contribute, so no lease expires and the attempt does
 * not time out before it (only the finalization deadline applies). Measured at 10 nodes with 2 s
 * epochs, blocks certified 3–6 s after the epoch's end (start-up, a loaded machine): with clocks
 * from the round's opening, every lease had expired (and counted as a missed epoch against its
 * holder) and attempt 0 rolled back just as the first contributions arrived, so no epoch committed.
 */

export interface RoundTiming {
  /** A lease holder must contribute within this long of acquiring (or being offered) the lease. */
  leaseTimeoutMs: number
  /** One round attempt: contributions and verifications must all be in within this long, else rollback. */
  attemptTimeoutMs: number
  /** Verifiers assigned to each contributed chunk. */
  verifiersPerChunk: number
}

/** Events kept per round (the newest). */
export const MAX_EVENTS = 64

function refuse (code: (typeof ErrorCode)[keyof typeof ErrorCode], message: string): never {
  throw new EphemeraError(code, message)
}

/** A lease offer: it runs `leaseTimeoutMs` once the attempt has its block (`clocksRun`), else until the finalization deadline. */
function offer (round: Pick<RoundState, 'epoch' | 'finalizationDeadline'>, members: readonly string[], chunk: number, leaseAttempt: number, roundAttempt: number, now: number, timing: RoundTiming, clocksRun: boolean): Lease {
  return { holder: leaseHolder(members, round.epoch, chunk, leaseAttempt, roundAttempt), attempt: leaseAttempt, offeredAt: now, deadline: clocksRun ? now + timing.leaseTimeoutMs : round.finalizationDeadline }
}

/**
 * A chunk's verifiers follow from who contributes it: the holder of its lease until it is
 * contributed, so they are known (and may verify, once the round has its block) before the
 * contribution arrives. When the lease passes to another member they are assigned again, and the
 * verifications of members no longer assigned are dropped.
 */
function assignVerifiers (chunk: ChunkState, members: readonly string[], roundAttempt: number, timing: RoundTiming): void {
  chunk.verifiers = chunkVerifiers(members, chunk.contribution?.contributor ?? chunk.lease.holder, roundAttempt, timing.verifiersPerChunk)
  chunk.verifications = chunk.verifications.filter((v) => chunk.verifiers.includes(v.verifier))
}

/** The attempt's first contribution (at `now`) starts its clocks: the attempt's deadline and every pending lease's. */
function startClocks (round: RoundState, now: number, timing: RoundTiming): void {
  round.attemptDeadline = Math.min(round.finalizationDeadline, now + timing.attemptTimeoutMs)
  for (const chunk of round.chunks) {
    if (chunk.contribution == null) chunk.lease.deadline = Math.min(chunk.lease.deadline, now + timing.leaseTimeoutMs)
  }
}

function event (round: RoundState, at: number, kind: RoundEvent['kind'], detail: string, member?: string): void {
  round.events.push({ at, kind, detail, ...(member != null ? { member } : {}) })
  if (round.events.length > MAX_EVENTS) round.events.splice(0, round.events.length - MAX_EVENTS)
}

/** A new round for an epoch that has just ended: every chunk's first lease offered, and its verifiers assigned (its clocks start with the first contribution). */
export function openRound (p: { epoch: number, chunks: readonly ChunkRange[], members: readonly string[], now: number, finalizationDeadline: number, timing: RoundTiming }): RoundState {
  const round: RoundState = {
    epoch: p.epoch,
    status: 'open',
    version: 0,
    attempt: 0,
    attemptStartedAt: p.now,
    attemptDeadline: p.finalizationDeadline,
    finalizationDeadline: p.finalizationDeadline,
    chunks: p.chunks.map((c) => ({ ...c, lease: offer(p, p.members, c.index, 0, 0, p.now, p.timing, false), verifiers: [], verifications: [] })),
    events: []
  }
  for (const chunk of round.chunks) assignVerifiers(chunk, p.members, 0, p.timing)
  return round
}

function openChunk (round: RoundState, index: number): ChunkState {
  if (round.status === 'committed') refuse(ErrorCode.EPOCH_DECIDED, `epoch ${round.epoch} is already committed`)
  if (round.status === 'failed') refuse(ErrorCode.EPOCH_FAILED, `epoch ${round.epoch} failed: ${round.failure ?? ''}`)
  const chunk = round.chunks[index]
  if (!Number.isSafeInteger(index) || chunk == null) refuse(ErrorCode.NOT_FOUND, `epoch ${round.epoch} has ${round.chunks.length} chunks; there is no chunk ${index}`)
  return chunk
}

/**
 * tryLock: the member offered a chunk's lease acquires it (again, after a reconnect: idempotent)
 * and gets its deadline. Refused when the chunk is contributed or offered to someone else.
 */
export function acquireLease (round: RoundState, index: number, node: string, now: number): Lease {
  const chunk = openChunk(round, index)
  if (chunk.contribution != null) refuse(ErrorCode.LEASE_HELD, `chunk ${index} of epoch ${round.epoch} is already contributed`)
  if (chunk.lease.holder !== node) refuse(ErrorCode.LEASE_HELD, `chunk ${index} of epoch ${round.epoch} is leased to ${chunk.lease.holder} until ${new Date(chunk.lease.deadline).toISOString()}`)
  if (now > chunk.lease.deadline) refuse(ErrorCode.LEASE_HELD, `the lease of chunk ${index} of epoch ${round.epoch} expired; it passes to the next member`)
  chunk.lease.lockedAt ??= now
  return chunk.lease
}

/** The checks of a contribution that need no content: the chunk exists, is open, and `node` holds its lease in time. */
export function assertHolder (round: RoundState, index: number, node: string, now: number): ChunkState {
  const chunk = openChunk(round, index)
  if (chunk.contribution != null) refuse(ErrorCode.LEASE_HELD, `chunk ${index} of epoch ${round.epoch} is already contributed by ${chunk.contribution.contributor}`)
  if (chunk.lease.holder !== node || chunk.lease.lockedAt == null) refuse(ErrorCode.LEASE_HELD, `only the holder of chunk ${index}'s lease (${chunk.lease.holder}) may contribute it, after tryLock`)
  if (now > chunk.lease.deadline) refuse(ErrorCode.LEASE_HELD, `the lease of chunk ${index} of epoch ${round.epoch} expired before the contribution arrived`)
  return chunk
}

/**
 * tryContribute, after the Coordinator checked the rows and signature: only the lease holder,
 * before its deadline, derived from the round's anchor (the first contribution sets it).
 */
export function addContribution (round: RoundState, index: number, c: Contribution & { anchor?: Anchor }, blockHash: string, members: readonly string[], timing: RoundTiming): ChunkState {
  const chunk = assertHolder(round, index, c.contributor, c.at)
  if (round.anchor == null) {
    if (c.anchor == null) refuse(ErrorCode.SUBMISSION_INVALID, `epoch ${round.epoch} has no block yet: the first contribution must carry its certified block`)
    round.anchor = c.anchor
    startClocks(round, c.at, timing)
  } else if (round.anchor.blockHash !== blockHash) {
    refuse(ErrorCode.SUBMISSION_INVALID, `chunk from a different block: epoch ${round.epoch}'s chunks derive from block ${round.anchor.blockHash}, not ${blockHash}`)
  }
  chunk.contribution = { contributor: c.contributor, rows: c.rows, rowsHash: c.rowsHash, signature: c.signature, at: c.at }
  assignVerifiers(chunk, members, round.attempt, timing)
  chunk.verifyDeadline = c.at + timing.leaseTimeoutMs
  return chunk
}

/**
 * tryVerify: an assigned verifier's signed finding for a chunk. A chunk may be verified once the
 * round has its block, before its contribution arrives (the contribution must equal the block's
 * rows, so an agreeing finding holds for it); a failed finding only once it is contributed. A
 * failed one is kept with both sides in the round's events and blocks the chunk for this round
 * attempt, unless it is `rejected` (it contradicts the certified block: it is only recorded, and
 * does not count).
 */
export function addVerification (round: RoundState, index: number, v: Verification, rejected?: string): ChunkState {
  const chunk = openChunk(round, index)
  if (round.anchor == null) refuse(ErrorCode.EPOCH_NOT_READY, `epoch ${round.epoch}'s round has no block yet: its chunks are verified once the first contribution has brought it`)
  if (!chunk.verifiers.includes(v.verifier)) refuse(ErrorCode.FORBIDDEN, `${v.verifier} is not assigned to verify chunk ${index} of epoch ${round.epoch} (assigned: ${chunk.verifiers.join(', ')})`)
  if (chunk.verifications.some((x) => x.verifier === v.verifier)) refuse(ErrorCode.DUPLICATE, `${v.verifier} already verified chunk ${index} of epoch ${round.epoch}`)
  const contribution = chunk.contribution
  if (contribution == null) {
    if (!v.ok) refuse(ErrorCode.EPOCH_NOT_READY, `chunk ${index} of epoch ${round.epoch} has not been contributed yet: a failed verification is taken once it is`)
    chunk.verifications.push(v)
    return chunk
  }
  if (rejected != null) {
    event(round, v.at, 'verification-failed', `chunk ${index}: ${v.verifier} derived rows ${v.ownRowsHash}, ${contribution.contributor} contributed ${contribution.rowsHash}; ${rejected}`, v.verifier)
    return chunk
  }
  chunk.verifications.push(v)
  if (!v.ok) event(round, v.at, 'verification-failed', `chunk ${index}: ${v.verifier} derived rows ${v.ownRowsHash}, ${contribution.contributor} contributed ${contribution.rowsHash}${v.detail != null ? ` (${v.detail})` : ''}`)
  return chunk
}

/** Whether a chunk is contributed and verified by all its verifiers, none failing. */
export function chunkDone (chunk: ChunkState): boolean {
  return chunk.contribution != null && chunk.verifications.length === chunk.verifiers.length && chunk.verifications.every((v) => v.ok)
}

/** tryAdvance's precondition: open, and every chunk contributed and verified. */
export function readyToAdvance (round: RoundState): boolean {
  return round.status === 'open' && round.anchor != null && round.chunks.every(chunkDone)
}

/** What holds the round back, in one line (for rollbacks, failures and the status view). */
export function pendingWork (round: RoundState): string {
  const missing = round.chunks.filter((c) => c.contribution == null).map((c) => c.index)
  const blocked = round.chunks.filter((c) => c.verifications.some((v) => !v.ok)).map((c) => c.index)
  const unverified = round.chunks.filter((c) => c.contribution != null && !chunkDone(c) && !blocked.includes(c.index)).map((c) => c.index)
  const parts: string[] = []
  if (missing.length > 0) parts.push(`chunk${missing.length > 1 ? 's' : ''} ${missing.join(', ')} never contributed`)
  if (blocked.length > 0) parts.push(`chunk${blocked.length > 1 ? 's' : ''} ${blocked.join(', ')} failed verification`)
  if (unverified.length > 0) parts.push(`chunk${unverified.length > 1 ? 's' : ''} ${unverified.join(', ')} not verified`)
  return parts.length > 0 ? parts.join('; ') : 'nothing pending'
}

/**
 * The timeouts, in the order update() applies them: the finalization deadline (→ failed), the
 * attempt deadline (→ rollback), then each lease deadline (→ the next member). Returns whether
 * anything changed.
 */
export function expire (round: RoundState, now: number, members: readonly string[], timing: RoundTiming): boolean {
  if (round.status !== 'open') return false
  if (now > round.finalizationDeadline) {
    round.status = 'failed'
    round.failure = `not committed by the finalization deadline (${new Date(round.finalizationDeadline).toISOString()}) after ${round.attempt + 1} attempt(s): ${pendingWork(round)}`
    event(round, now, 'failed', round.failure)
    return true
  }
  if (now > round.attemptDeadline) {
    rollback(round, now, `attempt ${round.attempt} timed out: ${pendingWork(round)}`, members, timing)
    return true
  }
  let changed = false
  for (const chunk of round.chunks) {
    if (chunk.contribution != null && chunk.verifyDeadline != null && now > chunk.verifyDeadline && !chunkDone(chunk) && chunk.verifications.every((v) => v.ok)) {
      const replaced = replaceVerifiers(chunk, members)
      chunk.verifyDeadline = now + timing.leaseTimeoutMs
      if (replaced != null) {
        event(round, now, 'verifier-expired', `chunk ${chunk.index}: ${replaced}`)
        changed = true
      }
    }
    if (chunk.contribution != null || now <= chunk.lease.deadline) continue
    const missed = chunk.lease
    chunk.lease = offer(round, members, chunk.index, missed.attempt + 1, round.attempt, now, timing, round.anchor != null)
    assignVerifiers(chunk, members, round.attempt, timing)
    event(round, now, 'lease-expired', `chunk ${chunk.index}: ${missed.holder} ${missed.lockedAt == null ? 'never locked it' : 'locked it but did not contribute'}; offered to ${chunk.lease.holder}`, missed.holder)
    changed = true
  }
  return changed
}

/**
 * A verifier that misses its deadline (down, or slow) is replaced by the next member after the
 * chunk's verifiers in the committee order that is neither the contributor nor already assigned;
 * what it did not do passes on, as a lease does. Returns what changed, if anything could.
 */
function replaceVerifiers (chunk: ChunkState, members: readonly string[]): string | undefined {
  const contributor = (chunk.contribution as Contribution).contributor
  const done = new Set(chunk.verifications.map((v) => v.verifier))
  const pending = chunk.verifiers.filter((v) => !done.has(v))
  const last = members.indexOf(chunk.verifiers.at(-1) ?? contributor)
  const candidates: string[] = []
  for (let j = 1; j < members.length; j++) {
    const m = members[(last + j) % members.length] as string
    if (m !== contributor && !chunk.verifiers.includes(m)) candidates.push(m)
  }
  const swaps: string[] = []
  chunk.verifiers = chunk.verifiers.map((v) => {
    if (done.has(v) || candidates.length === 0 || !pending.includes(v)) return v
    const next = candidates.shift() as string
    swaps.push(`${v} did not verify; assigned to ${next}`)
    return next
  })
  return swaps.length > 0 ? swaps.join('; ') : undefined
}

/**
 * Rollback: contributions, verifications, the anchor and the leases of the epoch are cleared and
 * the next round attempt starts, with holders and verifiers rotated; its clocks start with its
 * first contribution. The epoch stays open.
 */
export function rollback (round: RoundState, now: number, reason: string, members: readonly string[], timing: RoundTiming): void {
  round.attempt += 1
  round.attemptStartedAt = now
  round.attemptDeadline = round.finalizationDeadline
  delete round.anchor
  for (const chunk of round.chunks) {
    delete chunk.contribution
    delete chunk.verifyDeadline
    chunk.verifications = []
    chunk.lease = offer(round, members, chunk.index, 0, round.attempt, now, timing, false)
    assignVerifiers(chunk, members, round.attempt, timing)
  }
  event(round, now, 'rollback', reason)
}

/** A round without its data (rows, block): what a failed round keeps. */
export function withoutData (round: RoundState): RoundState {
  delete round.anchor
  for (const c of round.chunks) if (c.contribution != null) c.contribution.rows = []
  return round
}

export function chunkRecord (c: ChunkState): ChunkRecordJson {
  const contribution = c.contribution as NonNullable<ChunkState['contribution']>
  return {
    index: c.index,
    from: c.from,
    to: c.to,
    contributor: contribution.contributor,
    rowsHash: contribution.rowsHash,
    signature: contribution.signature,
    // in the order the rotation assigned them
    verifications: [...c.verifications].sort((a, b) => c.verifiers.indexOf(a.verifier) - c.verifiers.indexOf(b.verifier)).map((v) => ({ verifier: v.verifier, ok: v.ok, ownRowsHash: v.ownRowsHash, signature: v.signature }))
  }
}
