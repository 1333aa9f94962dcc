import { ByteWriter, fromHex, toHex } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import type { VerifyFn } from '../block/validate.js'
import type { RewardRow } from './aggregate.js'
import { contributionSigningBytes, rowsHash, verificationSigningBytes, type ChunkRange } from './chunks.js'
import { EVIDENCE_TAG, type CheckedEvidence } from './evidence.js'
import { verifySubmission, type CommitteeJson, type ParametersJson, type SubmissionJson } from './record.js'
import type { AnchorBody } from './requests.js'
import { tableOfReports } from './table.js'

/**
 * Evidence of a false chunk statement (docs/PROTOCOL.md §7.7): a signed contribution whose rows are
 * not the chunk of the certified block it names, or a signed verification that says the verifier's
 * own rows differ from the contributed ones when they do not (or agree when they do not). The
 * block it is about goes with it, so anyone with the epoch's committee and parameters re-derives
 * the chunk's rows and sees the statement is false. The coordinator makes it itself when such a
 * request reaches it (the request is the signed statement).
 *
 *   evidence_hash = H( tag("ephemera/evidence/v1") ‖ u8(code) ‖ signed_bytes ‖ signer(32) ‖ signature(64) )
 *   code: invalid-contribution 4, invalid-verification 5
 */

export type RoundEvidenceJson =
  | { kind: 'invalid-contribution', epoch: number, chunk: ChunkRange, block: AnchorBody & { blockHash: string }, parameters: ParametersJson, rows: RewardRow[], signer: string, signature: string }
  | { kind: 'invalid-verification', epoch: number, chunk: ChunkRange, block: AnchorBody & { blockHash: string }, parameters: ParametersJson, rowsHash: string, ownRowsHash: string, ok: boolean, signer: string, signature: string }

export const ROUND_EVIDENCE_CODES = { 'invalid-contribution': 4, 'invalid-verification': 5 } as const

function signedBytes (e: RoundEvidenceJson): Uint8Array {
  const claim = { epoch: e.epoch, blockHash: fromHex(e.block.blockHash, 32) as Uint8Array, chunk: e.chunk }
  return e.kind === 'invalid-contribution'
    ? contributionSigningBytes({ ...claim, rowsHash: rowsHash(e.rows) })
    : verificationSigningBytes({ ...claim, rowsHash: fromHex(e.rowsHash, 32) as Uint8Array, ownRowsHash: fromHex(e.ownRowsHash, 32) as Uint8Array, ok: e.ok })
}

export function roundEvidenceHash (e: RoundEvidenceJson): string {
  return toHex(sha256(new ByteWriter().tag(EVIDENCE_TAG).u8(ROUND_EVIDENCE_CODES[e.kind]).bytes(signedBytes(e))
    .bytes(fromHex(e.signer, 32) as Uint8Array).bytes(fromHex(e.signature, 64) as Uint8Array).finish()))
}

/**
 * Checks the evidence against the epoch's committee: the block verifies as a consensus submission
 * of the epoch (§7.4, its table recomputed with `parameters`), the statement is signed by
 * `signer`, a member, and it is false about that block's chunk.
 */
export function checkRoundEvidence (e: RoundEvidenceJson, committee: CommitteeJson, verify: VerifyFn): CheckedEvidence {
  try {
    const signer = fromHex(e.signer, 32)
    const signature = fromHex(e.signature, 64)
    if (signer == null || signature == null) return { ok: false, reason: 'signer or signature is not hex of the right length' }
    if (!committee.members.some((m) => m.publicKey === e.signer.toLowerCase())) return { ok: false, reason: `the signer is not in the committee of epoch ${e.epoch}` }
    const table = tableOfReports(e.block.reports, e.parameters)
    const submission: SubmissionJson = { mode: 'consensus', blockHash: e.block.blockHash, header: e.block.header, certificate: e.block.certificate, reports: e.block.reports, rewards: table }
    const block = verifySubmission(submission, { epoch: e.epoch, committee, parameters: e.parameters, verify })
    if (!block.ok) return { ok: false, reason: `the block does not verify for epoch ${e.epoch}: ${block.failure ?? ''}` }
    if (e.chunk.from < 0 || e.chunk.to > table.length || e.chunk.from >= e.chunk.to) return { ok: false, reason: 'the chunk is outside the reward table' }
    if (!verify(signer, signedBytes(e), signature)) return { ok: false, reason: 'the statement\'s signature does not verify' }
    const derived = toHex(rowsHash(table.slice(e.chunk.from, e.chunk.to)))
    const ownFalse = e.kind === 'invalid-contribution'
      ? toHex(rowsHash(e.rows)) !== derived
      // a verification is false when the contributed rows are the block's and it says otherwise (or the reverse)
      : (e.rowsHash.toLowerCase() === derived) === !e.ok
    if (!ownFalse) return { ok: false, reason: 'the statement is true of the block: nothing to ban for' }
    return { ok: true, offender: e.signer.toLowerCase(), epoch: e.epoch, hash: roundEvidenceHash(e) }
  } catch (err) {
    return { ok: false, reason: `malformed evidence: ${(err as Error).message}` }
  }
}
