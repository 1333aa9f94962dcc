import { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { isDeepStrictEqual } from 'node:util'
import { blockFromJson, certificateFromJson, type CertificateJson } from '../../block/json.js'
import { verifyCertifiedBlock, type Check } from '../../block/verify.js'
import type { DeliveredBlockJson } from '../../api/broadcast-routes.js'
import { loadPeersFile } from '../../config/index.js'
import type { EpochRecordJson } from '../../epochs/record.js'
import { verifyEpoch } from '../../epochs/verify-epoch.js'
import { committeeOf } from '../../epochs/committee.js'
import { publicKeyFromPeerId } from '../../crypto/keys.js'
import { verifyPortable } from '../../crypto/portable.js'
import { EphemeraError, ErrorCode, errorMessage } from '../../util/errors.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { intOption, printJson, println } from '../output.js'
import { chainInput, chainLine, SINGLE_RECORD_CHAIN_NOTE } from './chain.js'
import { verifyAll } from './all.js'

interface VerifyOptions {
  epoch?: number
  contract?: string
  record?: string
  node?: string
  peers?: string
  allowStandalone: boolean
  /** false with --no-chain: skip the committee chain (it reads every record). */
  chain: boolean
  /** Every committed record of --contract, and the chain. */
  all: boolean
  json: boolean
}

/** The node's side: its official record equals the coordinator's, and it stores the certified block. */
async function nodeChecks (node: string, record: EpochRecordJson, members: Uint8Array[]): Promise<Check[]> {
  const checks: Check[] = []
  const base = nodeUrl(node)
  const theirs = await requestJson<{ official: EpochRecordJson | null }>('GET', `${base}/ephemera/rewards/epochs/${record.epoch}`).catch((err: unknown) => ({ official: null, error: errorMessage(err) }))
  const same = theirs.official != null && isDeepStrictEqual(theirs.official, record)
  const why = 'error' in theirs ? `${base}: ${theirs.error}` : theirs.official == null ? `${base} has no official record for epoch ${record.epoch}` : `${base} stores a different record for epoch ${record.epoch}`
  checks.push({ name: 'node\'s official record', ok: same, detail: same ? `${base} stores the same record` : why })
  const hash = record.submission.blockHash
  if (record.submission.mode !== 'consensus' || hash == null) return checks
  const block = await requestJson<DeliveredBlockJson>('GET', `${base}/ephemera/broadcast/block/${hash}`).catch(() => undefined)
  const certificate = await requestJson<CertificateJson>('GET', `${base}/ephemera/broadcast/block/certificates/${hash}`).catch(() => undefined)
  const parsedBlock = block == null ? undefined : blockFromJson(block)
  const parsedCert = certificate == null ? undefined : certificateFromJson(certificate)
  if (parsedBlock?.ok !== true || parsedCert?.ok !== true) {
    checks.push({ name: 'node stores the block', ok: false, detail: `${base} does not serve block ${hash} with its certificate` })
    return checks
  }
  const report = verifyCertifiedBlock({ ...parsedBlock.value, certificate: parsedCert.value, members, verify: verifyPortable })
  checks.push({ name: 'node stores the block', ok: report.ok, detail: report.ok ? `block ${hash.slice(0, 16)}… with ${report.signers} valid signatures` : `the node's copy: ${report.failure ?? ''}` })
  return checks
}

/** The record to verify: from the coordinator, or from a file (an exported or archived record). */
async function loadRecord (opts: VerifyOptions): Promise<EpochRecordJson> {
  if ((opts.record == null) === (opts.contract == null)) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, 'give either --contract URL (with --epoch) or --record FILE')
  if (opts.record != null) {
    let text: string
    try {
      text = await readFile(opts.record, 'utf8')
    } catch (err) {
      throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `cannot read the record file ${opts.record}: ${errorMessage(err)}`)
    }
    try {
      return JSON.parse(text) as EpochRecordJson
    } catch {
      throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `${opts.record} is not JSON (save a record with: ephemera epochs show E --contract URL --json)`)
    }
  }
  if (opts.epoch == null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, '--epoch is required with --contract')
  return await requestJson<EpochRecordJson>('GET', `${nodeUrl(opts.contract as string)}/contract/epochs/${opts.epoch}`)
}

async function verifyOneEpoch (options: VerifyOptions): Promise<void> {
  const record = await loadRecord(options)
  const opts = { ...options, epoch: options.epoch ?? record.epoch }
  const committee = opts.peers != null ? committeeOf(await loadPeersFile(opts.peers)) : undefined
  const members = (committee ?? record.committee).members.map((m) => publicKeyFromPeerId(m.peerId))
  const more = opts.node != null ? await nodeChecks(opts.node, record, members) : []
  // the committee of every epoch, re-derived from genesis and the changes the records carry
  const chain = opts.contract == null
    ? { note: SINGLE_RECORD_CHAIN_NOTE }
    : !opts.chain ? { note: 'committee chain: not checked (--no-chain)' } : await chainInput(nodeUrl(opts.contract))
  const { committeeChain, committeeChainNote, ...report } = verifyEpoch(record, { epoch: opts.epoch, allowStandalone: opts.allowStandalone, ...(committee != null ? { committee } : {}), more, chain })
  if (opts.json) {
    printJson({ epoch: opts.epoch, committeeSource: opts.peers ?? 'record', ...report, committeeChain, ...(committeeChainNote != null ? { committeeChainNote } : {}) })
  } else {
    println(`epoch ${opts.epoch}: winner ${record.winner.name}, ${record.submission.mode} submission, ${record.submission.reports.length} reports`)
    for (const c of report.checks) println(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`)
    println(committeeChain != null ? chainLine(committeeChain) : committeeChainNote)
  }
  if (!report.ok) throw new EphemeraError(ErrorCode.VERIFY_FAILED, `verification failed: ${report.failure ?? ''}`)
  if (opts.json) return
  if (record.submission.mode === 'standalone') println(`verified: epoch ${opts.epoch}'s rewards are ${record.winner.name}'s own signed averages (standalone: no consensus, no certificate)`)
  else println(`verified: epoch ${opts.epoch}'s rewards are certified by ${report.signers} of ${members.length} members and equal the ${record.parameters.aggregation} of the signed reports`)
}

export function verifyCommand (): Command {
  return new Command('verify')
    .description('re-derive an epoch\'s rewards from public data: exit 0 only if everything holds')
    .option('--epoch <n>', 'epoch number (required with --contract; with --record, the record must be of this epoch)', intOption(1, Number.MAX_SAFE_INTEGER))
    .option('--contract <url>', 'coordinator URL: verify its record of --epoch')
    .option('--record <file>', 'verify a record saved as JSON (e.g. by `ephemera epochs show E --json`) instead')
    .option('--node <url>', 'also check that this node stores the same official record and the certified block')
    .option('--peers <file>', 'check against the committee in this peers file instead of the one in the record')
    .option('--allow-standalone', 'accept a standalone (uncertified, single-member) record as valid', false)
    .option('--no-chain', 'with --contract: skip the committee chain check (it reads every record)')
    .option('--all', 'with --contract (no --epoch): verify every committed record against its epoch\'s re-derived committee, and the committee chain', false)
    .option('--json', 'print the report as JSON', false)
    .addHelpText('after', `
Checks, from the coordinator's public record: the committee hashes to its membership id; the block
header hashes to the block hash and commits to that committee; at least q = n - floor((n-1)/3)
distinct committee members signed READY for it; every report is signed by a distinct committee
member for this epoch and mixnode set; every report is in the block (RFC 6962 inclusion proof);
there are at least rewardsThreshold of them; and the reward table equals the aggregate of the
reports. For a record committed in chunks: the chunks tile the table, each chunk's rows hash to
what its contributor (a member) signed, and each was verified by the required number of distinct
other members, whose signatures are checked too. Signatures are checked with @noble/ed25519,
independently of the node and coordinator.

With --contract it also checks the committee chain: it reads the genesis committee
(GET /contract/genesis) and every committed record, re-derives each epoch's committee from genesis
and the committee changes the records carry (each decided at a commit, in force two epochs on), and
checks that every record names the committee that follows. A single record (--record) cannot show
the chain; the output says so.`)
    .action(async (opts: VerifyOptions) => {
      if (!opts.all) {
        await verifyOneEpoch(opts)
        return
      }
      if (opts.contract == null || opts.epoch != null || opts.record != null || opts.node != null || opts.peers != null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, '--all takes --contract URL only (not --epoch, --record, --node or --peers)')
      await verifyAll({ contract: opts.contract, allowStandalone: opts.allowStandalone, json: opts.json })
    })
}
