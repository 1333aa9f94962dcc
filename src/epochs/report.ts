import { ByteReader, ByteWriter, equalBytes, toHex } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import { messageId, messageSigningBytes } from '../block/encoding.js'
import { checkMessage, type VerifyFn } from '../block/validate.js'
import type { ClientMessage } from '../block/types.js'

/**
 * A node's signed report of its average uptime per mixnode over one epoch (docs/PROTOCOL.md §7).
 * It travels as a client message (label REPORT_LABEL, data = the report layout) signed by the
 * reporting node's key, so blocks, Merkle proofs and signatures work as for any message.
 *
 *   report = tag("ephemera/report/v2") ‖ u64(epoch) ‖ sender(32) ‖ parametersId(32)
 *          ‖ u32(count) ‖ count × u16(value)
 *
 * parametersId commits to every aggregation parameter (parametersId below), so the parameters of
 * a record are fixed by bytes the reporters signed and the quorum certified: nobody, the
 * coordinator included, can change them without a new certificate. Version 1 (tag
 * "ephemera/report/v1", mixnodeSetId in that place) is still decoded, so that records made before
 * v2 stay verifiable; nodes make and accept only v2 in new blocks.
 *
 * A value is the uptime in hundredths of a percent (0..10000); MISSING (0xFFFF) means the node
 * has no sample for that mixnode in the epoch.
 */

export const REPORT_LABEL = 'rewards/report/v1'
export const REPORT_TAG = 'ephemera/report/v2'
export const REPORT_TAG_V1 = 'ephemera/report/v1'
export const MISSING = 0xffff
export const MAX_VALUE = 10_000
/** Most mixnodes a report can carry (its data must fit a message). */
export const MAX_MIXNODES = 30_000

export interface Report {
  /** 2: `commitment` is the parametersId; 1 (old records only): the mixnodeSetId. */
  version: 1 | 2
  epoch: number
  /** 32-byte public key of the reporting member. */
  sender: Uint8Array
  commitment: Uint8Array
  /** One per mixnode, in mixnode order: hundredths of a percent, or MISSING. */
  values: Uint16Array
}

const setIds = new Map<number, Uint8Array>()

/** Mixnodes are numbered 0..count-1; the set id pins how many there are. */
export function mixnodeSetId (count: number): Uint8Array {
  let id = setIds.get(count)
  if (id == null) {
    id = sha256(new ByteWriter().tag('ephemera/mixnodes/v1').u32(count).finish())
    if (setIds.size > 64) setIds.clear()
    setIds.set(count, id)
  }
  return id
}

/** The aggregation parameters a v2 report commits to (the fields of the coordinator's parameters). */
export interface ReportParameters {
  mixnodes: number
  aggregation: string
  trimPermille: number
  minValues: number
  rewardPool: string
  rewardsThreshold: number
}

/**
 * parametersId = H( tag("ephemera/parameters/v1") ‖ u32(mixnodes) ‖ string16(aggregation)
 *                  ‖ u16(trimPermille) ‖ u16(minValues) ‖ string16(rewardPool) ‖ u16(rewardsThreshold) )
 */
export function parametersId (p: ReportParameters): Uint8Array {
  return sha256(new ByteWriter().tag('ephemera/parameters/v1').u32(p.mixnodes).string16(p.aggregation)
    .u16(p.trimPermille).u16(p.minValues).string16(p.rewardPool).u16(p.rewardsThreshold).finish())
}

export function encodeReport (r: Report): Uint8Array {
  const w = new ByteWriter().tag(r.version === 2 ? REPORT_TAG : REPORT_TAG_V1).u64(r.epoch).bytes(r.sender).bytes(r.commitment).u32(r.values.length)
  const values = new Uint8Array(r.values.length * 2)
  const view = new DataView(values.buffer)
  r.values.forEach((v, i) => { view.setUint16(i * 2, v) })
  return w.bytes(values).finish()
}

/** Decodes a report; throws RangeError naming the problem. */
export function decodeReport (bytes: Uint8Array): Report {
  const r = new ByteReader(bytes)
  const tag = r.tag()
  if (tag !== REPORT_TAG && tag !== REPORT_TAG_V1) throw new RangeError('not a report (wrong tag)')
  const epoch = r.u64()
  const sender = r.bytes(32)
  const commitment = r.bytes(32)
  const count = r.u32()
  if (count > MAX_MIXNODES) throw new RangeError(`report has ${count} values, more than ${MAX_MIXNODES}`)
  if (r.remaining !== count * 2) throw new RangeError(`report says ${count} values but carries ${r.remaining} bytes`)
  const raw = r.bytes(count * 2)
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const values = new Uint16Array(count)
  for (let i = 0; i < count; i++) {
    const v = view.getUint16(i * 2)
    if (v > MAX_VALUE && v !== MISSING) throw new RangeError(`value ${i} is ${v}, above ${MAX_VALUE}`)
    values[i] = v
  }
  return { version: tag === REPORT_TAG ? 2 : 1, epoch, sender, commitment, values }
}

/** Wraps a report in a client message signed by the reporting node. */
export function reportMessage (report: Report, sign: (bytes: Uint8Array) => Uint8Array, timestamp: number): ClientMessage {
  const body = { timestamp, label: REPORT_LABEL, data: encodeReport(report) }
  return { ...body, publicKey: report.sender, signature: sign(messageSigningBytes(body)) }
}

export interface ReportContext {
  epoch: number
  /** Committee public keys, hex. */
  committee: ReadonlySet<string>
  /** The parameters the report must commit to; it carries exactly one value per mixnode. */
  parameters: ReportParameters
  /** Accept version 1 reports (verifying records made before v2; never for new blocks). */
  acceptV1?: boolean
  verify: VerifyFn
}

export type CheckedReport = { ok: true, report: Report, id: string } | { ok: false, reason: string }

/**
 * Everything that makes a message a valid report for an epoch: label, signature, decodable
 * layout, sender = signer, sender in the committee, the epoch, the mixnode set and one value per
 * mixnode.
 */
export function checkReportMessage (m: ClientMessage, ctx: ReportContext): CheckedReport {
  if (m.label !== REPORT_LABEL) return { ok: false, reason: `label is "${m.label}", not ${REPORT_LABEL}` }
  const problem = checkMessage(m, ctx.verify)
  if (problem != null) return { ok: false, reason: problem }
  let report: Report
  try {
    report = decodeReport(m.data)
  } catch (err) {
    return { ok: false, reason: `malformed report: ${(err as Error).message}` }
  }
  if (!equalBytes(report.sender, m.publicKey)) return { ok: false, reason: 'report sender is not the key that signed it' }
  if (!ctx.committee.has(toHex(report.sender))) return { ok: false, reason: 'report sender is not in the committee' }
  if (report.epoch !== ctx.epoch) return { ok: false, reason: `report is for epoch ${report.epoch}, expected ${ctx.epoch}` }
  if (report.version === 1) {
    if (ctx.acceptV1 !== true) return { ok: false, reason: 'a version 1 report (it does not commit to the parameters)' }
    if (!equalBytes(report.commitment, mixnodeSetId(ctx.parameters.mixnodes))) return { ok: false, reason: 'report is for another mixnode set' }
  } else if (!equalBytes(report.commitment, parametersId(ctx.parameters))) {
    return { ok: false, reason: 'report is for other parameters (its parametersId differs)' }
  }
  if (report.values.length !== ctx.parameters.mixnodes) return { ok: false, reason: `report has ${report.values.length} values for ${ctx.parameters.mixnodes} mixnodes` }
  return { ok: true, report, id: toHex(messageId(m)) }
}
