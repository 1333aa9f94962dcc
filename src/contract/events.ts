import { EventFeed } from '../api/ws-feed.js'
import { eventId } from '../api/ws-frames.js'
import { committedSummary } from '../epochs/epoch-summary.js'
import type { EpochRecordJson } from '../epochs/record.js'
import type { CoordinatorDeps } from './coordinator.js'
import type { BanJson } from './membership.js'
import type { RoundEvent, RoundState } from './round.js'
import type { StoredEvidence } from './store.js'

/** The coordinator's event types (`WS /contract/ws`); without `?types=` a client gets all of them. */
export const CONTRACT_EVENT_TYPES = ['epoch', 'committee', 'rollback', 'round', 'evidence'] as const

/** `rollback`: an attempt of an epoch's round timed out; its contributions were cleared and the next attempt started. */
export interface RollbackFrameJson {
  epoch: number
  /** The attempt that starts now (the one that timed out is attempt − 1). */
  attempt: number
  at: number
  reason: string
}

/** `round`: any other event of an epoch's round (GET /contract/rounds lists the recent ones). */
export interface RoundFrameJson {
  epoch: number
  kind: Exclude<RoundEvent['kind'], 'rollback'>
  at: number
  detail: string
  /** lease-expired: the member that let its lease expire (public key, hex). */
  member?: string
}

/** `evidence`: evidence the coordinator accepted (from a node, or a false chunk statement it caught), and the ban it caused. */
export interface EvidenceFrameJson {
  /** evidence_hash: GET /contract/evidence/{hash} serves it while the ban lasts. */
  hash: string
  kind: string
  /** The epoch (or RBC round) the evidence is about. */
  epoch: number
  offender: { name: string, publicKey: string }
  /** Who submitted it (public key, hex; `coordinator` when it caught a false statement itself) and when (ms). */
  submittedBy: string
  submittedAt: number
  /** The ban it caused: by, reason, and the epoch running when decided (null if it was forgotten since). */
  ban: { by: BanJson['by'], reason: string, epoch: number } | null
}

/**
 * The coordinator's events, emitted by its composition root (src/contract/service.ts) from the
 * Coordinator's hooks and served at `WS /contract/ws` (src/contract/ws-api.ts).
 */
export class ContractEvents extends EventFeed {
  /** A record was committed (stored): an `epoch` frame, and a `committee` frame for the change it decided. */
  committed (record: EpochRecordJson): void {
    this.emit('epoch', () => committedSummary(record), eventId.epoch(record.epoch))
    const change = record.committeeChange
    if (change != null) this.emit('committee', () => change, eventId.committee(change.decidedAt))
  }

  /** A round event: a `rollback` frame for a rollback (with the round's attempt now), a `round` frame for the others. */
  round (epoch: number, event: RoundEvent, attempt: () => number | undefined): void {
    if (event.kind === 'rollback') {
      this.emit('rollback', (): RollbackFrameJson => ({ epoch, attempt: attempt() ?? 0, at: event.at, reason: event.detail }))
      return
    }
    const kind = event.kind
    this.emit('round', (): RoundFrameJson => ({ epoch, kind, at: event.at, detail: event.detail, ...(event.member != null ? { member: event.member } : {}) }))
  }

  /** Evidence stored behind a new ban. */
  evidence (stored: StoredEvidence, ban: BanJson | undefined): void {
    this.emit('evidence', (): EvidenceFrameJson => ({
      hash: stored.hash,
      kind: (stored.evidence as { kind?: unknown } | null)?.kind as string ?? 'unknown',
      epoch: stored.epoch,
      offender: { name: ban?.member.name ?? stored.offender.slice(0, 12), publicKey: stored.offender },
      submittedBy: stored.submittedBy,
      submittedAt: stored.submittedAt,
      ban: ban == null ? null : { by: ban.by, reason: ban.reason, epoch: ban.epoch }
    }))
  }
}

/** The Coordinator's hooks that feed `events`; a rollback's attempt is read from the open rounds. */
export function coordinatorHooks (events: ContractEvents, openRounds: () => readonly RoundState[]): Required<Pick<CoordinatorDeps, 'onEvent' | 'onCommitted' | 'onEvidence'>> {
  return {
    onEvent: (epoch, event) => { events.round(epoch, event, () => openRounds().find((r) => r.epoch === epoch)?.attempt) },
    onCommitted: (record) => { events.committed(record) },
    onEvidence: (evidence, ban) => { events.evidence(evidence, ban) }
  }
}
