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
 *   report = tag("ephemera/report/v1") ‖ u64(epoch) ‖ sender(32) ‖ mixnodeSetId(32)
 *          ‖ u32(count) ‖ count × u16(value)
 *
 * A value is the uptime in hundredths of a percent (0..10000); MISSING (0xFFFF) means the node
 * has no sample for that mixnode in the epoch.
 */

export const REPORT_LABEL = 'rewards/report/v1'
export const REPORT_TAG = 'ephemera/report/v1'
export const MISSING = 0xffff
export const MAX_VALUE = 10_000
/** Most mixnodes a report can carry (its data must fit a message). */
export const MAX_MIXNODES = 30_000

export interface Report {
  epoch: number
  /** 32-byte public key of the reporting member. */
  sender: Uint8Array
  mixnodeSetId: Uint8Array
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

export function encodeReport (r: Report): Uint8Array {
  const w = new ByteWriter().tag(REPORT_TAG).u64(r.epoch).bytes(r.sender).bytes(r.mixnodeSetId).u32(r.values.length)
  const values = new Uint8Array(r.values.length * 2)
  const view = new DataView(values.buffer)
  r.values.forEach((v, i) => { view.setUint16(i * 2, v) })
  return w.bytes(values).finish()
}

/** Decodes a report; throws RangeError naming the problem. */
export function decodeReport (bytes: Uint8Array): Report {
  const r = new ByteReader(bytes)
  if (r.tag() !== REPORT_TAG) throw new RangeError('not a report (wrong tag)')
  const epoch = r.u64()
  const sender = r.bytes(32)
  const setId = r.bytes(32)
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
  return { epoch, sender, mixnodeSetId: setId, values }
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
  /** Number of mixnodes: a report carries exactly one value per mixnode. */
  mixnodes: number
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
  if (!equalBytes(report.mixnodeSetId, mixnodeSetId(ctx.mixnodes))) return { ok: false, reason: 'report is for another mixnode set' }
  if (report.values.length !== ctx.mixnodes) return { ok: false, reason: `report has ${report.values.length} values for ${ctx.mixnodes} mixnodes` }
  return { ok: true, report, id: toHex(messageId(m)) }
}
