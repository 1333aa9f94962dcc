import type { CommitteeChangeJson } from '../epochs/committee-chain.js'
import type { EpochWindow } from '../epochs/environment.js'
import type { CommitteeMemberJson, EpochRecordJson } from '../epochs/record.js'
import type { EpochCommittee } from './committees.js'
import { chunkRecord, type Anchor, type RoundState } from './round.js'

/**
 * The record a complete round commits (tryAdvance's prepare step): its certified block and
 * reports, the table as the chunks' rows in order, each chunk's contributor and verifiers, the
 * epoch's committee and parameters, and the committee change this commit decides, if any.
 */
export function roundRecord (round: RoundState, p: { window: EpochWindow, committee: EpochCommittee, verifiersPerChunk: number, now: number, change: CommitteeChangeJson | undefined }): EpochRecordJson {
  const anchor = round.anchor as Anchor
  const { committee, members, parameters } = p.committee
  return {
    epoch: round.epoch,
    startMs: p.window.startMs,
    endMs: p.window.endMs,
    committee,
    parameters,
    submission: { mode: 'consensus', blockHash: anchor.blockHash, header: anchor.header, certificate: anchor.certificate, reports: anchor.reports, rewards: round.chunks.flatMap((c) => c.contribution?.rows ?? []) },
    winner: members.get(anchor.by) as CommitteeMemberJson,
    acceptedAt: p.now,
    latencyMs: p.now - p.window.endMs,
    chunks: round.chunks.map((c) => chunkRecord(c)),
    attempt: round.attempt,
    verifiersPerChunk: p.verifiersPerChunk,
    ...(p.change != null ? { committeeChange: p.change } : {})
  }
}
