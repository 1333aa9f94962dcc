import type { VerifyFn } from '../block/validate.js'
import type { Check, VerifyReport } from '../block/verify.js'
import { verifyPortable } from '../crypto/portable.js'
import { committeeChainChecks } from './committee-chain.js'
import { verifyRecord, type CommitteeJson, type EpochRecordJson } from './record.js'

/**
 * The checks of one epoch, in one place: `ephemera verify` and the dashboard's in-browser
 * verification both run verifyEpoch, so they show the same checks with the same names and
 * details. Portable (nothing from Node: signatures with @noble/ed25519, hashes with
 * @noble/hashes), and it never throws: a malformed record is a failed check.
 */

/** The committee chain from genesis through every published record. */
export interface ChainReport {
  ok: boolean
  /** Records read, and the committee changes they carry. */
  records: number
  changes: number
  checks: Check[]
  failure?: string
}

/** What the chain is checked from: the genesis committee (GET /contract/genesis) and every committed record. */
export interface ChainInput {
  genesis: CommitteeJson
  records: readonly EpochRecordJson[]
}

export interface EpochVerifyOptions {
  /** The epoch asked for: the record must be of it (default: the record's own). */
  epoch?: number
  /** Accept a standalone (uncertified, single-member) record. */
  allowStandalone?: boolean
  /** Check against this committee instead of the one the record names (`--peers`). */
  committee?: CommitteeJson
  /** Further checks after the record's (the CLI's `--node` checks). */
  more?: readonly Check[]
  /** The chain to check, or why it is not checked. */
  chain: ChainInput | { note: string }
  /** Signature check (default: verifyPortable, @noble/ed25519). */
  verify?: VerifyFn
}

/** An epoch's verification: the record's checks, the chain's, and the first failure of either. */
export interface EpochVerification extends VerifyReport {
  /** null when the chain was not checked (committeeChainNote says why). */
  committeeChain: ChainReport | null
  committeeChainNote?: string
}

export const SINGLE_RECORD_CHAIN_NOTE = 'committee chain: not checked (a single record cannot show it; verify with --contract URL to re-derive every epoch\'s committee from genesis)'

/**
 * Re-derives every epoch's committee from the genesis committee and the changes the records
 * carry (committeeChainChecks): every check must hold.
 */
export function verifyChain (input: ChainInput): ChainReport {
  let checks: Check[]
  try {
    checks = committeeChainChecks(input.genesis, input.records)
  } catch (err) {
    checks = [{ name: 'well-formed', ok: false, detail: `the records do not give a committee chain: ${err instanceof Error ? err.message : String(err)}` }]
  }
  const failed = checks.find((c) => !c.ok)
  return {
    ok: failed == null,
    records: input.records.length,
    changes: input.records.filter((r) => r.committeeChange != null).length,
    checks,
    ...(failed != null ? { failure: `${failed.name}: ${failed.detail}` } : {})
  }
}

/** The one line `ephemera verify` prints about the chain. */
export function chainLine (report: ChainReport): string {
  if (!report.ok) return `committee chain: FAIL ${report.failure ?? ''}`
  return `committee chain: ${report.changes} change${report.changes === 1 ? '' : 's'} over ${report.records} record${report.records === 1 ? '' : 's'}, every record's committee follows from genesis`
}

/**
 * The record's checks: it is of the epoch asked for, certified by consensus (unless standalone
 * records are allowed), and everything verifyRecord checks against its committee.
 */
function recordChecks (record: EpochRecordJson, opts: EpochVerifyOptions): VerifyReport {
  const epoch = opts.epoch ?? record.epoch
  const allow = opts.allowStandalone ?? false
  const report = verifyRecord(record, opts.verify ?? verifyPortable, opts.committee)
  const consensus = record.submission.mode === 'consensus'
  report.checks.unshift(
    { name: 'epoch', ok: record.epoch === epoch, detail: record.epoch === epoch ? `record of epoch ${record.epoch}` : `the coordinator answered with the record of epoch ${record.epoch}` },
    {
      name: 'certified by consensus',
      ok: consensus || allow,
      detail: consensus ? 'a quorum of the committee signed the block' : `no: a standalone submission by ${record.winner.name}${allow ? ' (accepted: --allow-standalone)' : ' (pass --allow-standalone to accept the baseline)'}`
    }
  )
  return report
}

/** Every check of one epoch's record, then `more`, then the committee chain; ok only if all hold. */
export function verifyEpoch (record: EpochRecordJson, opts: EpochVerifyOptions): EpochVerification {
  let report: VerifyReport
  try {
    report = recordChecks(record, opts)
  } catch (err) {
    // verifySubmission never throws; the fields around it may be missing in a hand-made record
    const detail = `not an epoch record: ${err instanceof Error ? err.message : String(err)}`
    report = { ok: false, checks: [{ name: 'well-formed', ok: false, detail }], failure: undefined, signers: 0, quorum: 0 }
  }
  report.checks.push(...opts.more ?? [])
  const failed = report.checks.find((c) => !c.ok)
  report.ok = failed == null
  report.failure = failed == null ? undefined : `${failed.name}: ${failed.detail}`
  const chain = 'note' in opts.chain ? null : verifyChain(opts.chain)
  if (chain?.ok === false && report.ok) {
    report.ok = false
    report.failure = `committee chain: ${chain.failure ?? ''}`
  }
  return { ...report, committeeChain: chain, ...('note' in opts.chain ? { committeeChainNote: opts.chain.note } : {}) }
}
