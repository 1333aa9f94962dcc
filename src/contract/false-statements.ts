import type { VerifyFn } from '../block/validate.js'
import type { ChunkRange } from '../epochs/chunks.js'
import type { CommitteeJson, CommitteeMemberJson, ParametersJson } from '../epochs/record.js'
import type { ContributionBody, VerificationBody } from '../epochs/requests.js'
import { checkRoundEvidence, type RoundEvidenceJson } from '../epochs/round-evidence.js'
import type { RoundState } from './round.js'
import type { StoredEvidence } from './store.js'

/** What a refused chunk request is about: the round, the chunk, the signer and the epoch's committee. */
export interface StatementContext {
  round: RoundState
  chunk: ChunkRange
  signer: CommitteeMemberJson
  committee: CommitteeJson
  parameters: ParametersJson
  verify: VerifyFn
  now: number
}

/**
 * Evidence from a signed chunk request that states something false about the round's certified
 * block (src/epochs/round-evidence.ts): a contribution whose rows are not the block's chunk, or a
 * verification that contradicts the block. Undefined when the request proves nothing (no block
 * to judge by, a bad signature, a true statement).
 */
export function falseStatement (ctx: StatementContext, request: { contribution: ContributionBody } | { verification: VerificationBody, rowsHash: string }): StoredEvidence | undefined {
  const anchor = ctx.round.anchor ?? ('contribution' in request && request.contribution.block != null ? { ...request.contribution.block, blockHash: request.contribution.blockHash.toLowerCase() } : undefined)
  if (anchor == null) return undefined
  const block = { blockHash: anchor.blockHash, header: anchor.header, certificate: anchor.certificate, reports: anchor.reports }
  const base = { epoch: ctx.round.epoch, chunk: { index: ctx.chunk.index, from: ctx.chunk.from, to: ctx.chunk.to }, block, parameters: ctx.parameters, signer: ctx.signer.publicKey }
  const evidence: RoundEvidenceJson = 'contribution' in request
    ? { kind: 'invalid-contribution', ...base, rows: request.contribution.rows, signature: request.contribution.signature }
    : { kind: 'invalid-verification', ...base, rowsHash: request.rowsHash, ownRowsHash: request.verification.ownRowsHash, ok: request.verification.ok, signature: request.verification.signature }
  const checked = checkRoundEvidence(evidence, ctx.committee, ctx.verify)
  if (!checked.ok) return undefined
  return { hash: checked.hash, offender: checked.offender, epoch: checked.epoch, submittedBy: 'coordinator', submittedAt: ctx.now, evidence }
}
