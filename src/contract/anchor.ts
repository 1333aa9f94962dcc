import type { RewardRow } from '../epochs/aggregate.js'
import { tableOfReports } from '../epochs/table.js'
import { verifySubmission, canonicalSubmission, type CommitteeJson, type ParametersJson, type SubmissionJson } from '../epochs/record.js'
import type { CertificateJson, HeaderJson } from '../block/json.js'
import type { VerifyFn } from '../block/validate.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Anchor } from './round.js'
import type { AnchorBody } from '../epochs/requests.js'

/** The whole reward table an anchor's reports give (every chunk is a slice of it). */
export function anchorTable (anchor: Pick<Anchor, 'reports'>, parameters: ParametersJson): RewardRow[] {
  return tableOfReports(anchor.reports, parameters)
}

/**
 * Checks a certified block offered as an epoch's anchor exactly as a whole submission is checked
 * (certificate ≥ q of the committee, report signatures, Merkle inclusion of every report, the
 * report threshold, round = epoch), and returns it in canonical form with its reward table.
 * Throws SUBMISSION_INVALID naming the failed check.
 */
export function checkAnchor (p: { epoch: number, blockHash: string, body: AnchorBody, by: string, at: number, committee: CommitteeJson, parameters: ParametersJson, verify: VerifyFn }): { anchor: Anchor, table: RewardRow[] } {
  let table: RewardRow[]
  try {
    table = anchorTable(p.body, p.parameters)
  } catch (err) {
    throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `the block for epoch ${p.epoch} is refused: a report does not decode (${(err as Error).message})`)
  }
  const submission: SubmissionJson = { mode: 'consensus', blockHash: p.blockHash, header: p.body.header, certificate: p.body.certificate, reports: p.body.reports, rewards: table }
  const report = verifySubmission(submission, { epoch: p.epoch, committee: p.committee, parameters: p.parameters, verify: p.verify })
  if (!report.ok) throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `the block for epoch ${p.epoch} is refused: ${report.failure ?? ''}`, { response: { checks: report.checks } })
  const canonical = canonicalSubmission(submission)
  return {
    anchor: { blockHash: canonical.blockHash as string, header: canonical.header as HeaderJson, certificate: canonical.certificate as CertificateJson, reports: canonical.reports, by: p.by, at: p.at },
    table
  }
}
