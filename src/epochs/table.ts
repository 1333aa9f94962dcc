import { messageFromJson } from '../block/json.js'
import { aggregateReports, type RewardRow } from './aggregate.js'
import { aggregationParams, type ParametersJson, type ReportEntryJson } from './record.js'
import { decodeReport } from './report.js'

/**
 * The reward table a block's reports give (docs/PROTOCOL.md §7.3): what every chunk of an epoch
 * is a slice of. Throws RangeError naming a report that does not decode (check the reports
 * first where they are untrusted: verifySubmission does).
 */
export function tableOfReports (reports: readonly ReportEntryJson[], parameters: ParametersJson): RewardRow[] {
  const values = reports.map((r, i) => {
    const parsed = messageFromJson(r.message)
    if (!parsed.ok) throw new RangeError(`report ${i}: ${parsed.error}`)
    return decodeReport(parsed.value.data).values
  })
  return aggregateReports(values, parameters.mixnodes, aggregationParams(parameters))
}
