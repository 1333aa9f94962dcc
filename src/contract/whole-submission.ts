import { fromHex } from '../codec/bytes.js'
import type { VerifyFn } from '../block/validate.js'
import type { EpochWindow } from '../epochs/environment.js'
import { canonicalSubmission, verifySubmission, type CommitteeJson, type CommitteeMemberJson, type EpochRecordJson, type ParametersJson, type SubmissionJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

export interface WholeSubmissionRules {
  committee: CommitteeJson
  parameters: ParametersJson
  verify: VerifyFn
  /** Accept `standalone` submissions (the baseline without consensus). */
  allowStandalone: boolean
}

/**
 * The record a whole submission (the certified block's reports and the reward table in one request)
 * makes of an epoch, or the refusal: too early, already decided (with the winner's record), a
 * standalone one where they are not allowed, or one that does not verify (with every check).
 */
export function wholeSubmissionRecord (
  rules: WholeSubmissionRules,
  request: { epoch: number, window: EpochWindow, now: number, submission: SubmissionJson, submitter: CommitteeMemberJson, existing: EpochRecordJson | undefined }
): EpochRecordJson {
  const { epoch, window, now, submission, submitter, existing } = request
  if (!Number.isSafeInteger(epoch) || epoch < 1) throw new EphemeraError(ErrorCode.BAD_REQUEST, `epoch must be a positive integer, got ${epoch}`)
  if (now < window.endMs) throw new EphemeraError(ErrorCode.EPOCH_NOT_READY, `epoch ${epoch} ends at ${new Date(window.endMs).toISOString()}; it cannot be submitted before then`)
  if (existing != null) {
    throw new EphemeraError(ErrorCode.EPOCH_DECIDED, `epoch ${epoch} already has an accepted submission, by ${existing.winner.name} (${existing.winner.peerId})`, { response: { record: existing } })
  }
  if (submission.mode === 'standalone' && !rules.allowStandalone) {
    throw new EphemeraError(ErrorCode.FORBIDDEN, 'this coordinator does not accept standalone submissions (allow_standalone = false)')
  }
  const report = verifySubmission(submission, {
    epoch, committee: rules.committee, parameters: rules.parameters, verify: rules.verify, submitter: fromHex(submitter.publicKey, 32)
  })
  if (!report.ok) throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `submission for epoch ${epoch} refused: ${report.failure ?? ''}`, { response: { checks: report.checks } })
  return {
    epoch,
    startMs: window.startMs,
    endMs: window.endMs,
    committee: rules.committee,
    parameters: rules.parameters,
    submission: canonicalSubmission(submission),
    winner: submitter,
    acceptedAt: now,
    latencyMs: now - window.endMs
  }
}
