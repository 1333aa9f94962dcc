import type { EpochRecordJson } from './record.js'

/**
 * One epoch as `GET /contract/epochs` lists it, and, for a committed one, the payload of the
 * `epoch` WebSocket frame of nodes and the coordinator (README "WebSocket frames"): a dashboard
 * reads one shape from the list and from the push.
 */
export interface EpochSummary {
  epoch: number
  status: 'committed' | 'open' | 'pending' | 'failed'
  /** committed through the round lifecycle: its chunks (all verified); open: contributed/verified so far */
  chunks?: { total: number, contributed: number, verified: number }
  /** failed: why */
  reason?: string
  startMs: number
  endMs: number
  winner?: string
  mode?: string
  blockHash?: string | null
  reports?: number
  signatures?: number
  acceptedAt?: number
  latencyMs?: number
  /** committed: the committee's size, and the change its commit decided (in force from `effectiveEpoch`) */
  committeeSize?: number
  committeeChange?: { effectiveEpoch: number, decisions: string[] }
}

/** The summary of a committed record. */
export function committedSummary (record: EpochRecordJson): EpochSummary {
  return {
    epoch: record.epoch,
    status: 'committed',
    startMs: record.startMs,
    endMs: record.endMs,
    winner: record.winner.name,
    mode: record.submission.mode,
    blockHash: record.submission.blockHash,
    reports: record.submission.reports.length,
    signatures: record.submission.certificate?.signatures.length ?? 0,
    acceptedAt: record.acceptedAt,
    latencyMs: record.latencyMs,
    ...(record.chunks != null ? { chunks: { total: record.chunks.length, contributed: record.chunks.length, verified: record.chunks.length } } : {}),
    committeeSize: record.committee.members.length,
    ...(record.committeeChange != null ? { committeeChange: { effectiveEpoch: record.committeeChange.effectiveEpoch, decisions: record.committeeChange.decisions.map((d) => `${d.kind} ${d.member.name}`) } } : {})
  }
}
