import * as z from 'zod'
import { fromHex, toHex } from '../codec/bytes.js'
import { membershipId, messageId } from '../block/encoding.js'
import { blockFromJson, certificateFromJson, certificateToJson, headerToJson, messageFromJson, messageToJson, type CertificateJson, type HeaderJson, type MessageJson } from '../block/json.js'
import type { VerifyFn } from '../block/validate.js'
import type { CommitteeChangeJson } from './committee-chain.js'
import { verifyCertifiedBlock, type Check, type VerifyReport } from '../block/verify.js'
import type { Block, Certificate, ClientMessage } from '../block/types.js'
import { inclusionProof, verifyInclusion } from '../crypto/merkle.js'
import { aggregateReports, diffRewardTables, type AggregationMethod, type AggregationParams, type RewardRow } from './aggregate.js'
import { checkReportMessage, decodeReport, MAX_MIXNODES, mixnodeSetId, type Report } from './report.js'
import { chunkChecks } from './chunk-verify.js'
import type { ChunkRecordJson } from './chunks.js'

/**
 * What a node submits for an epoch and what the coordinator keeps (JSON, as served over HTTP), and
 * the one verification routine the coordinator, the nodes and `ephemera verify` all run
 * (docs/PROTOCOL.md §7). Portable: pass verifyPortable or node:crypto's verifySignature.
 */

export interface CommitteeMemberJson {
  name: string
  peerId: string
  publicKey: string
  /** Where the member listens (libp2p multiaddrs), as it registered them (members admitted from the queue). */
  multiaddrs?: string[]
}

export interface CommitteeJson {
  membershipId: string
  members: CommitteeMemberJson[]
}

export interface ParametersJson {
  mixnodes: number
  mixnodeSetId: string
  aggregation: AggregationMethod
  trimPermille: number
  minValues: number
  rewardPool: string
  /** Reports a block must hold (default q). */
  rewardsThreshold: number
}

export interface ReportEntryJson {
  message: MessageJson
  /** RFC 6962 inclusion proof of the message in the block (null for standalone submissions). */
  proof: { index: number, treeSize: number, path: string[] } | null
}

export interface SubmissionJson {
  mode: 'consensus' | 'standalone'
  /** consensus only */
  blockHash: string | null
  header: HeaderJson | null
  certificate: CertificateJson | null
  reports: ReportEntryJson[]
  rewards: RewardRow[]
}

export interface EpochRecordJson {
  epoch: number
  startMs: number
  endMs: number
  committee: CommitteeJson
  parameters: ParametersJson
  submission: SubmissionJson
  winner: CommitteeMemberJson
  /** When the coordinator accepted it (ms since the Unix epoch). */
  acceptedAt: number
  /** acceptedAt − endMs */
  latencyMs: number
  /**
   * Records committed through the round lifecycle: each chunk's contributor and verifiers with
   * their signatures, and the round attempt that committed (absent on whole-submission records).
   */
  chunks?: ChunkRecordJson[]
  attempt?: number
  /** Verifications each chunk needed (the environment's verifiers per chunk, at most n − 1). */
  verifiersPerChunk?: number
  /**
   * The committee change this record's commit decided (admissions, leaves, drops, bans), in force
   * from a later epoch (src/epochs/committee-chain.ts); absent when nothing changed.
   */
  committeeChange?: CommitteeChangeJson
}

const proofSchema = z.object({ index: z.number().int().min(0), treeSize: z.number().int().min(1), path: z.array(z.string()).max(64) }).nullable()
export const rewardRowSchema = z.object({ mixnode: z.number().int().min(0), performance: z.number().int().nullable(), values: z.number().int().min(0), reward: z.string().regex(/^\d+$/) })

/** Shape check of a submission body (content is checked by verifySubmission). */
export const submissionSchema = z.object({
  mode: z.enum(['consensus', 'standalone']),
  blockHash: z.string().nullable(),
  header: z.record(z.string(), z.unknown()).nullable(),
  certificate: z.record(z.string(), z.unknown()).nullable(),
  reports: z.array(z.object({ message: z.record(z.string(), z.unknown()), proof: proofSchema })).max(1000),
  rewards: z.array(rewardRowSchema).max(100_000)
})

export function aggregationParams (p: ParametersJson): AggregationParams {
  return { method: p.aggregation, trimPermille: p.trimPermille, minValues: p.minValues, rewardPool: BigInt(p.rewardPool) }
}

export interface VerifyContext {
  epoch: number
  committee: CommitteeJson
  parameters: ParametersJson
  verify: VerifyFn
  /** standalone submissions: the member that submitted (its report is the only one). */
  submitter?: Uint8Array
}

const parametersSchema = z.object({
  mixnodes: z.number().int().min(1).max(MAX_MIXNODES),
  mixnodeSetId: z.string(),
  aggregation: z.enum(['median', 'mean', 'trimmed-mean']),
  trimPermille: z.number().int().min(0).max(499),
  minValues: z.number().int().min(0).max(10_000),
  rewardPool: z.string().regex(/^\d{1,30}$/),
  rewardsThreshold: z.number().int().min(0).max(10_000)
})

/**
 * Every check of a submission (or of a record's submission) against a committee and parameters.
 * Never throws: malformed input is a failed check.
 */
export function verifySubmission (sub: SubmissionJson, ctx: VerifyContext): VerifyReport {
  try {
    return verifySubmissionUnsafe(sub, ctx)
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err)
    return { ok: false, checks: [{ name: 'well-formed', ok: false, detail }], failure: `well-formed: ${detail}`, signers: 0, quorum: 0 }
  }
}

function verifySubmissionUnsafe (sub: SubmissionJson, ctx: VerifyContext): VerifyReport {
  const checks: Check[] = []
  const check = (name: string, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail })
    return ok
  }
  const finish = (signers = 0, quorum = 0): VerifyReport => {
    const failed = checks.find((c) => !c.ok)
    return { ok: failed == null, checks, failure: failed == null ? undefined : `${failed.name}: ${failed.detail}`, signers, quorum }
  }

  const params = parametersSchema.safeParse(ctx.parameters)
  if (!check('parameters', params.success, params.success ? `${ctx.parameters.aggregation}, ${ctx.parameters.mixnodes} mixnodes` : `out of range: ${params.error.issues[0]?.path.join('.') ?? ''}`)) return finish()
  const keys = ctx.committee.members.map((m) => fromHex(m.publicKey, 32))
  if (!check('committee keys', keys.every((k) => k != null), keys.every((k) => k != null) ? `${keys.length} keys` : 'a committee member has no valid 32-byte key')) return finish()
  const committeeKeys = keys as Uint8Array[]
  const mid = toHex(membershipId(committeeKeys))
  if (!check('committee', mid === ctx.committee.membershipId, mid === ctx.committee.membershipId ? `${committeeKeys.length} members` : `the members hash to ${mid}, not ${ctx.committee.membershipId}`)) return finish()
  const setId = toHex(mixnodeSetId(ctx.parameters.mixnodes))
  if (!check('mixnode set', setId === ctx.parameters.mixnodeSetId, `${ctx.parameters.mixnodes} mixnodes`)) return finish()

  // the reports themselves: each a valid report of this epoch by a distinct committee member
  const messages: ClientMessage[] = []
  const reports: Report[] = []
  const senders = new Set<string>()
  const committeeSet = new Set(committeeKeys.map(toHex))
  let reportProblem: string | undefined
  for (const [i, entry] of sub.reports.entries()) {
    const parsed = messageFromJson(entry.message)
    if (!parsed.ok) {
      reportProblem = `report ${i}: ${parsed.error}`
      break
    }
    const checked = checkReportMessage(parsed.value, { epoch: ctx.epoch, committee: committeeSet, parameters: ctx.parameters, acceptV1: true, verify: ctx.verify })
    if (!checked.ok) {
      reportProblem = `report ${i}: ${checked.reason}`
      break
    }
    const sender = toHex(checked.report.sender)
    if (senders.has(sender)) {
      reportProblem = `report ${i}: a second report by the same member`
      break
    }
    // a block's reports are sorted by sender key (docs/PROTOCOL.md §7.2)
    if (i > 0 && sender < toHex(reports[reports.length - 1]?.sender as Uint8Array)) {
      reportProblem = `report ${i}: reports are not sorted by sender key`
      break
    }
    senders.add(sender)
    messages.push(parsed.value)
    reports.push(checked.report)
  }
  if (!check('report signatures', reportProblem == null, reportProblem ?? `${reports.length} valid reports from distinct members`)) return finish()

  let signers = 0
  let quorum = 0
  let aggregation = aggregationParams(ctx.parameters)
  if (sub.mode === 'consensus') {
    const present = sub.header != null && sub.certificate != null && sub.blockHash != null
    if (!check('block present', present, present ? 'header, certificate and block hash' : 'a consensus submission must carry a header, a certificate and a block hash')) return finish()
    const blockParsed = blockFromJson({ hash: sub.blockHash, header: sub.header, messages: sub.reports.map((r) => r.message) })
    if (!check('block encoding', blockParsed.ok, blockParsed.ok ? 'well-formed' : blockParsed.error)) return finish()
    const certParsed = certificateFromJson(sub.certificate)
    if (!check('certificate encoding', certParsed.ok, certParsed.ok ? 'well-formed' : certParsed.error)) return finish()
    if (!blockParsed.ok || !certParsed.ok) return finish()
    const { block, claimedHash } = blockParsed.value
    check('round is the epoch', block.header.round === ctx.epoch, `block round ${block.header.round}, epoch ${ctx.epoch}`)
    const blockReport = verifyCertifiedBlock({ block, claimedHash, certificate: certParsed.value, members: committeeKeys, verify: ctx.verify })
    checks.push(...blockReport.checks)
    signers = blockReport.signers
    quorum = blockReport.quorum
    // every report with a proof that it is in the block, and every block message accounted for
    const seen = new Set<number>()
    let inclusion: string | undefined
    for (const [i, entry] of sub.reports.entries()) {
      const proof = entry.proof
      const path = proof?.path.map((p) => fromHex(p, 32))
      if (proof == null || path == null || path.some((p) => p == null)) { inclusion ??= `report ${i} has no well-formed proof`; continue }
      if (seen.has(proof.index)) { inclusion ??= `report ${i} repeats leaf index ${proof.index}`; continue }
      seen.add(proof.index)
      if (!verifyInclusion(messageId(messages[i] as ClientMessage), { index: proof.index, treeSize: proof.treeSize, path: path as Uint8Array[] }, block.header.messagesRoot)) inclusion ??= `report ${i}: inclusion proof does not verify against messagesRoot`
    }
    if (inclusion == null && seen.size !== block.header.messageCount) inclusion = `${seen.size} reports for a block of ${block.header.messageCount} messages`
    check('Merkle inclusion', inclusion == null, inclusion ?? `${seen.size} reports proven in the block`)
    check('report threshold', reports.length >= ctx.parameters.rewardsThreshold, `${reports.length} reports, threshold ${ctx.parameters.rewardsThreshold}`)
  } else {
    const submitter = ctx.submitter
    const own = reports.length === 1 && submitter != null && toHex(reports[0]?.sender as Uint8Array) === toHex(submitter)
    check('standalone report', own, own ? 'one report, by the submitter' : 'a standalone submission carries exactly the submitter\'s own report')
    aggregation = { ...aggregation, minValues: 1 }
  }
  const expected = aggregateReports(reports.map((r) => r.values), ctx.parameters.mixnodes, aggregation)
  const difference = diffRewardTables(expected, sub.rewards)
  check('rewards', difference == null, difference ?? `${expected.filter((r) => r.performance != null).length} of ${expected.length} mixnodes rewarded (${ctx.parameters.aggregation})`)
  return finish(signers, quorum)
}

/** Verifies a stored record: its submission against its own committee and parameters. */
export function verifyRecord (record: EpochRecordJson, verify: VerifyFn, trustedCommittee?: CommitteeJson): VerifyReport {
  const committee = trustedCommittee ?? record.committee
  const winner = fromHex(record.winner.publicKey, 32)
  const report = verifySubmission(record.submission, { epoch: record.epoch, committee, parameters: record.parameters, verify, submitter: winner })
  const inCommittee = committee.members.some((m) => m.publicKey === record.winner.publicKey)
  report.checks.push({ name: 'winner is a member', ok: inCommittee, detail: record.winner.peerId })
  if (record.chunks != null && report.ok && record.submission.blockHash != null) {
    report.checks.push(...chunkChecks(record.chunks, {
      epoch: record.epoch,
      blockHash: record.submission.blockHash,
      rewards: record.submission.rewards,
      members: committee.members.map((m) => m.publicKey),
      verifiersPerChunk: record.verifiersPerChunk ?? 1,
      verify
    }))
  } else if (record.chunks != null && record.submission.blockHash == null) {
    report.checks.push({ name: 'chunks', ok: false, detail: 'a chunked record must hold a certified block' })
  }
  const failed = report.checks.find((c) => !c.ok)
  report.ok = failed == null
  report.failure = failed == null ? undefined : `${failed.name}: ${failed.detail}`
  return report
}

/** The consensus submission for a certified block of reports (every report with its Merkle proof). */
export function consensusSubmission (d: { block: Block, hash: Uint8Array, certificate: Certificate }, parameters: ParametersJson): SubmissionJson {
  const ids = d.block.messages.map(messageId)
  return {
    mode: 'consensus',
    blockHash: toHex(d.hash),
    header: headerToJson(d.block.header),
    certificate: certificateToJson(d.certificate),
    reports: d.block.messages.map((m, i) => ({ message: messageToJson(m), proof: { index: i, treeSize: ids.length, path: inclusionProof(ids, i).path.map(toHex) } })),
    rewards: aggregateReports(d.block.messages.map((m) => decodeReport(m.data).values), parameters.mixnodes, aggregationParams(parameters))
  }
}

/** The standalone (no consensus) submission of a member's own report: aggregated with minValues 1. */
export function standaloneSubmission (message: ClientMessage, parameters: ParametersJson): SubmissionJson {
  return {
    mode: 'standalone',
    blockHash: null,
    header: null,
    certificate: null,
    reports: [{ message: messageToJson(message), proof: null }],
    rewards: aggregateReports([decodeReport(message.data).values], parameters.mixnodes, { ...aggregationParams(parameters), minValues: 1 })
  }
}

/**
 * A verified submission re-serialised from its parsed content, so that the stored record holds
 * only fields the checks covered (no extra keys, no unverified creator PeerIds or message ids).
 * Call it only after verifySubmission passed.
 */
export function canonicalSubmission (sub: SubmissionJson): SubmissionJson {
  const messages = sub.reports.map((r) => {
    const parsed = messageFromJson(r.message)
    if (!parsed.ok) throw new Error(`canonicalSubmission: ${parsed.error}`)
    return parsed.value
  })
  const reports = sub.reports.map((r, i) => ({
    message: messageToJson(messages[i] as ClientMessage),
    proof: r.proof == null ? null : { index: r.proof.index, treeSize: r.proof.treeSize, path: r.proof.path.map((p) => p.toLowerCase()) }
  }))
  const rewards = sub.rewards.map((row) => ({ mixnode: row.mixnode, performance: row.performance, values: row.values, reward: row.reward }))
  if (sub.mode === 'standalone') return { mode: 'standalone', blockHash: null, header: null, certificate: null, reports, rewards }
  const block = blockFromJson({ hash: sub.blockHash, header: sub.header, messages: sub.reports.map((r) => r.message) })
  const certificate = certificateFromJson(sub.certificate)
  if (!block.ok || !certificate.ok) throw new Error('canonicalSubmission: malformed block or certificate')
  return {
    mode: 'consensus',
    blockHash: toHex(block.value.claimedHash),
    header: headerToJson(block.value.block.header),
    certificate: certificateToJson(certificate.value),
    reports,
    rewards
  }
}
