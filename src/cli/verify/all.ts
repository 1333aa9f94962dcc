import type { GenesisRound } from '../../contract/store.js'
import { committeeAt, committeeChainChecks } from '../../epochs/committee-chain.js'
import { verifyRecord, type EpochRecordJson } from '../../epochs/record.js'
import { verifyPortable } from '../../crypto/portable.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { printJson, println } from '../output.js'
import { allRecords } from './chain.js'

/**
 * `ephemera verify --all --contract URL`: every committed record, each against the committee of
 * its epoch as re-derived from genesis and the published changes (not the one the record names),
 * plus the committee chain itself. One line per record; exit non-zero if any check fails.
 */
export async function verifyAll (opts: { contract: string, allowStandalone: boolean, json: boolean }): Promise<void> {
  const base = nodeUrl(opts.contract)
  const genesis = await requestJson<GenesisRound>('GET', `${base}/contract/genesis`)
  const records = (await allRecords(base)).sort((a, b) => a.epoch - b.epoch)
  const changes = records.flatMap((r) => r.committeeChange == null ? [] : [r.committeeChange]).sort((a, b) => a.effectiveEpoch - b.effectiveEpoch)
  const results = records.map((record: EpochRecordJson) => {
    const report = verifyRecord(record, verifyPortable, committeeAt(genesis.committee, changes, record.epoch))
    const standalone = record.submission.mode === 'standalone' && !opts.allowStandalone
    const failure = !report.ok ? report.failure : standalone ? `a standalone submission by ${record.winner.name} (pass --allow-standalone to accept the baseline)` : undefined
    return { epoch: record.epoch, ok: failure == null, signers: report.signers, ...(failure != null ? { failure } : {}) }
  })
  const chain = committeeChainChecks(genesis.committee, records)
  const chainFailure = chain.find((c) => !c.ok)
  const failed = results.filter((r) => !r.ok)
  if (opts.json) {
    printJson({ records: results.length, failed: failed.length, results, committeeChain: { ok: chainFailure == null, changes: changes.length, checks: chain } })
  } else {
    for (const r of results) println(r.ok ? `epoch ${r.epoch}: ok (${r.signers} signatures)` : `epoch ${r.epoch}: FAIL ${r.failure ?? ''}`)
    println(chainFailure == null
      ? `committee chain: ${changes.length} change${changes.length === 1 ? '' : 's'} over ${records.length} record${records.length === 1 ? '' : 's'}, every record's committee follows from genesis`
      : `committee chain: FAIL ${chainFailure.name}: ${chainFailure.detail}`)
  }
  if (failed.length > 0 || chainFailure != null) {
    throw new EphemeraError(ErrorCode.VERIFY_FAILED, `verification failed: ${failed.length} of ${results.length} records${chainFailure != null ? ', and the committee chain' : ''}`)
  }
  if (!opts.json) println(`verified: all ${results.length} records, each against its epoch's committee re-derived from genesis`)
}
