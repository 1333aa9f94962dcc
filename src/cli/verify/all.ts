import { committeeAt } from '../../epochs/committee-chain.js'
import { verifyRecord, type EpochRecordJson } from '../../epochs/record.js'
import { chainLine, verifyChain } from '../../epochs/verify-epoch.js'
import { verifyPortable } from '../../crypto/portable.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { nodeUrl } from '../http-client.js'
import { printJson, println } from '../output.js'
import { chainInput } from './chain.js'

/**
 * `ephemera verify --all --contract URL`: every committed record, each against the committee of
 * its epoch as re-derived from genesis and the published changes (not the one the record names),
 * plus the committee chain itself. One line per record; exit non-zero if any check fails.
 */
export async function verifyAll (opts: { contract: string, allowStandalone: boolean, json: boolean }): Promise<void> {
  const input = await chainInput(nodeUrl(opts.contract))
  const records = [...input.records].sort((a, b) => a.epoch - b.epoch)
  const changes = records.flatMap((r) => r.committeeChange == null ? [] : [r.committeeChange]).sort((a, b) => a.effectiveEpoch - b.effectiveEpoch)
  const results = records.map((record: EpochRecordJson) => {
    const report = verifyRecord(record, verifyPortable, committeeAt(input.genesis, changes, record.epoch))
    const standalone = record.submission.mode === 'standalone' && !opts.allowStandalone
    const failure = !report.ok ? report.failure : standalone ? `a standalone submission by ${record.winner.name} (pass --allow-standalone to accept the baseline)` : undefined
    return { epoch: record.epoch, ok: failure == null, signers: report.signers, ...(failure != null ? { failure } : {}) }
  })
  const chain = verifyChain(input)
  const failed = results.filter((r) => !r.ok)
  if (opts.json) {
    printJson({ records: results.length, failed: failed.length, results, committeeChain: { ok: chain.ok, changes: changes.length, checks: chain.checks } })
  } else {
    for (const r of results) println(r.ok ? `epoch ${r.epoch}: ok (${r.signers} signatures)` : `epoch ${r.epoch}: FAIL ${r.failure ?? ''}`)
    println(chainLine(chain))
  }
  if (failed.length > 0 || !chain.ok) {
    throw new EphemeraError(ErrorCode.VERIFY_FAILED, `verification failed: ${failed.length} of ${results.length} records${!chain.ok ? ', and the committee chain' : ''}`)
  }
  if (!opts.json) println(`verified: all ${results.length} records, each against its epoch's committee re-derived from genesis`)
}
