import * as z from 'zod'
import { ByteWriter, compareBytes, equalBytes, fromHex, toHex } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import { messageId, proposalSigningBytes, readySigningBytes } from '../block/encoding.js'
import { messageFromJson, messageInputSchema, messageToJson, type MessageJson } from '../block/json.js'
import { LIMITS, type ClientMessage } from '../block/types.js'
import { checkMessage, type VerifyFn } from '../block/validate.js'
import { decodeReport, REPORT_LABEL, type Report } from './report.js'

/**
 * Equivocation evidence (docs/PROTOCOL.md §7.7): two signed statements by one key that cannot
 * both come from an honest member — two different reports for one epoch, two proposals for one
 * round with different block hashes, or two READY votes for one (round, creator) with different
 * block hashes. Anyone can check it with the signer's public key alone; it is what a node submits
 * to have a committee member banned. Pure: no I/O, no clock.
 *
 *   evidence_hash = H( tag("ephemera/evidence/v1") ‖ u8(kind) ‖ item_lo ‖ item_hi )
 *   item (report)          = message_id                                               32 bytes
 *   item (proposal, READY) = proposal/ready_signing_bytes ‖ signer(32) ‖ signature(64)
 *
 * item_lo ‖ item_hi are the two items in ascending byte order, so the hash does not depend on
 * which statement is a and which is b.
 */

export type EvidenceKind = 'report-equivocation' | 'proposal-equivocation' | 'ready-equivocation'

/** A vote signature as carried in evidence (hex strings). */
export interface SignedVoteJson { round: number, creator: string, hash: string, signer: string, signature: string }

export type EvidenceJson =
  | { kind: 'report-equivocation', a: MessageJson, b: MessageJson }
  | { kind: 'proposal-equivocation', a: SignedVoteJson, b: SignedVoteJson }
  | { kind: 'ready-equivocation', a: SignedVoteJson, b: SignedVoteJson }

export type CheckedEvidence =
  | { ok: true, offender: string /* 32-byte public key, hex */, epoch: number /* = the report epoch or the RBC round */, hash: string /* evidenceHash */ }
  | { ok: false, reason: string }

export const EVIDENCE_TAG = 'ephemera/evidence/v1'

/** The kind's byte in evidence_hash. */
export const EVIDENCE_KIND_CODES: Readonly<Record<EvidenceKind, number>> = { 'report-equivocation': 1, 'proposal-equivocation': 2, 'ready-equivocation': 3 }

const hex = (bytes: number): z.ZodString => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes} bytes of hex`)
const u64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
/** The base64 length of the largest message data. */
const MAX_DATA_BASE64 = Math.ceil(LIMITS.dataBytes / 3) * 4

const messageSchema = messageInputSchema.extend({
  id: hex(32),
  label: z.string().max(LIMITS.labelBytes),
  data: z.string().max(MAX_DATA_BASE64).pipe(messageInputSchema.shape.data)
})

const voteSchema = z.object({ round: u64, creator: hex(32), hash: hex(32), signer: hex(32), signature: hex(64) })

/** Shape and size check of an evidence body (the content is checked by checkEvidence). */
export const evidenceSchema: z.ZodType<EvidenceJson> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('report-equivocation'), a: messageSchema, b: messageSchema }),
  z.object({ kind: z.literal('proposal-equivocation'), a: voteSchema, b: voteSchema }),
  z.object({ kind: z.literal('ready-equivocation'), a: voteSchema, b: voteSchema })
])

/** Builds report-equivocation evidence from two ClientMessage (as the node's report pool keeps them). */
export function reportEvidence (a: ClientMessage, b: ClientMessage): EvidenceJson {
  return { kind: 'report-equivocation', a: messageToJson(a), b: messageToJson(b) }
}

/** Domain-separated hash of the evidence, independent of the order of a and b: hex. Throws RangeError on fields that do not parse. */
export function evidenceHash (evidence: EvidenceJson): string {
  if (evidence.kind === 'report-equivocation') return hashItems(evidence.kind, messageId(toMessage(evidence.a)), messageId(toMessage(evidence.b)))
  return hashItems(evidence.kind, voteItem(evidence.kind, toVote(evidence.a)), voteItem(evidence.kind, toVote(evidence.b)))
}

/** Checks evidence completely (shape, sizes, both signatures, same signer, same slot, different content). Never throws on any input, including malformed JSON shapes. */
export function checkEvidence (evidence: unknown, verify: VerifyFn): CheckedEvidence {
  try {
    const parsed = evidenceSchema.safeParse(evidence)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      return { ok: false, reason: `malformed evidence: ${issue == null ? 'invalid' : `${issue.path.join('.') || '(body)'}: ${issue.message}`}` }
    }
    const e = parsed.data
    return e.kind === 'report-equivocation' ? checkReports(e.a, e.b, verify) : checkVotes(e.kind, e.a, e.b, verify)
  } catch (err) {
    // a schema, a getter or the injected verifier that throws: refused, never thrown
    return { ok: false, reason: `malformed evidence: ${err instanceof Error ? err.message : String(err)}` }
  }
}

type Side = 'a' | 'b'
type Refused = { ok: false, reason: string }

function hashItems (kind: EvidenceKind, x: Uint8Array, y: Uint8Array): string {
  const [lo, hi] = compareBytes(x, y) <= 0 ? [x, y] : [y, x]
  return toHex(sha256(new ByteWriter().tag(EVIDENCE_TAG).u8(EVIDENCE_KIND_CODES[kind]).bytes(lo).bytes(hi).finish()))
}

function toMessage (m: MessageJson): ClientMessage {
  const parsed = messageFromJson(m)
  if (!parsed.ok) throw new RangeError(`malformed message: ${parsed.error}`)
  return parsed.value
}

interface Vote { round: number, creator: Uint8Array, hash: Uint8Array, signer: Uint8Array, signature: Uint8Array }

function field (value: string, bytes: number, name: string): Uint8Array {
  const out = fromHex(value, bytes)
  if (out == null) throw new RangeError(`${name} must be ${bytes} bytes of hex`)
  return out
}

function toVote (v: SignedVoteJson): Vote {
  return { round: v.round, creator: field(v.creator, 32, 'creator'), hash: field(v.hash, 32, 'hash'), signer: field(v.signer, 32, 'signer'), signature: field(v.signature, 64, 'signature') }
}

function signingBytes (kind: Exclude<EvidenceKind, 'report-equivocation'>, v: Vote): Uint8Array {
  return (kind === 'proposal-equivocation' ? proposalSigningBytes : readySigningBytes)(v.round, v.creator, v.hash)
}

/** A vote's item: its signing bytes ‖ signer ‖ signature. */
function voteItem (kind: Exclude<EvidenceKind, 'report-equivocation'>, v: Vote): Uint8Array {
  return new ByteWriter().bytes(signingBytes(kind, v)).bytes(v.signer).bytes(v.signature).finish()
}

interface ReportSide { message: ClientMessage, report: Report, id: Uint8Array }

/** One side of report evidence, without its signature: message id, label, report layout, sender = signer. */
function reportSide (m: MessageJson, side: Side): ReportSide | Refused {
  const message = toMessage(m)
  const id = messageId(message)
  if (m.id.toLowerCase() !== toHex(id)) return { ok: false, reason: `${side}: id is not the message's id (${toHex(id)})` }
  if (message.label !== REPORT_LABEL) return { ok: false, reason: `${side}: not a report (label "${message.label}")` }
  let report: Report
  try {
    report = decodeReport(message.data)
  } catch (err) {
    return { ok: false, reason: `${side}: not a report (${(err as Error).message})` }
  }
  if (report.version !== 2) return { ok: false, reason: `${side}: a version ${report.version} report (evidence takes version 2 reports only)` }
  if (!equalBytes(report.sender, message.publicKey)) return { ok: false, reason: `${side}: the report names another sender than the key that signed it` }
  return { message, report, id }
}

/** Cheap checks first; the two signatures last. */
function checkReports (ma: MessageJson, mb: MessageJson, verify: VerifyFn): CheckedEvidence {
  const a = reportSide(ma, 'a')
  if ('ok' in a) return a
  const b = reportSide(mb, 'b')
  if ('ok' in b) return b
  if (!equalBytes(a.message.publicKey, b.message.publicKey)) return { ok: false, reason: 'the two reports are signed by different keys' }
  if (a.report.epoch !== b.report.epoch) return { ok: false, reason: `the reports are for different epochs (${a.report.epoch} and ${b.report.epoch})` }
  if (equalBytes(a.message.data, b.message.data)) return { ok: false, reason: 'the two messages carry the same report: no conflict' }
  for (const [side, s] of [['a', a], ['b', b]] as const) {
    const problem = checkMessage(s.message, verify)
    if (problem != null) return { ok: false, reason: `${side}: ${problem}` }
  }
  return { ok: true, offender: toHex(a.message.publicKey), epoch: a.report.epoch, hash: hashItems('report-equivocation', a.id, b.id) }
}

function checkVotes (kind: Exclude<EvidenceKind, 'report-equivocation'>, ja: SignedVoteJson, jb: SignedVoteJson, verify: VerifyFn): CheckedEvidence {
  const a = toVote(ja)
  const b = toVote(jb)
  if (kind === 'proposal-equivocation') {
    for (const [side, v] of [['a', a], ['b', b]] as const) {
      if (!equalBytes(v.signer, v.creator)) return { ok: false, reason: `${side}: a proposal is signed by its creator, not by another key` }
    }
  }
  if (!equalBytes(a.signer, b.signer)) return { ok: false, reason: 'the two votes are signed by different keys' }
  if (a.round !== b.round) return { ok: false, reason: `the votes are for different rounds (${a.round} and ${b.round})` }
  if (!equalBytes(a.creator, b.creator)) return { ok: false, reason: 'the votes are for different creators' }
  if (equalBytes(a.hash, b.hash)) return { ok: false, reason: 'the two votes name the same block hash: no conflict' }
  for (const [side, v] of [['a', a], ['b', b]] as const) {
    if (!verify(v.signer, signingBytes(kind, v), v.signature)) return { ok: false, reason: `${side}: signature does not verify` }
  }
  return { ok: true, offender: toHex(a.signer), epoch: a.round, hash: hashItems(kind, voteItem(kind, a), voteItem(kind, b)) }
}
