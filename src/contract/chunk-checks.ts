import type { VerifyFn } from '../block/validate.js'
import { fromHex, toHex } from '../codec/bytes.js'
import { diffRewardTables, type RewardRow } from '../epochs/aggregate.js'
import { contributionSigningBytes, rowsHash, verificationSigningBytes } from '../epochs/chunks.js'
import type { CommitteeJson, ParametersJson } from '../epochs/record.js'
import type { ContributionBody, VerificationBody } from '../epochs/requests.js'
import type { Anchor, ChunkState, Contribution, RoundState, Verification } from '../epochs/round-types.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { checkAnchor } from './anchor.js'

/**
 * The content checks of chunk uploads (docs/PROTOCOL.md §7.6), apart from who may upload what
 * (round.ts): pure, given the round, its table and the upload. Each returns what the round
 * records, or throws SUBMISSION_INVALID / BAD_REQUEST / EPOCH_NOT_READY naming the problem.
 */

export interface ChunkCheckContext {
  committee: CommitteeJson
  parameters: ParametersJson
  verify: VerifyFn
}

/**
 * A contribution of chunk `chunk` by `contributor`: when the round has no block yet, the upload's
 * block is checked like a whole submission and becomes the anchor (with its table); the rows must
 * be the table's slice and signed by the contributor.
 */
export function checkContribution (ctx: ChunkCheckContext, p: { round: RoundState, chunk: ChunkState, table: RewardRow[] | undefined, contributor: string, body: ContributionBody, now: number }): { contribution: Contribution, anchor?: Anchor, table: RewardRow[] } {
  const { round, chunk, body } = p
  const epoch = round.epoch
  let anchor: Anchor | undefined
  let table = p.table
  if (round.anchor == null || table == null) {
    if (body.block == null) throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `epoch ${epoch} has no block yet: the first contribution must carry its certified block`)
    const checked = checkAnchor({ epoch, blockHash: body.blockHash, body: body.block, by: p.contributor, at: p.now, committee: ctx.committee, parameters: ctx.parameters, verify: ctx.verify })
    anchor = checked.anchor
    table = checked.table
  }
  const rows = table.slice(chunk.from, chunk.to)
  const difference = diffRewardTables(rows, body.rows)
  if (difference != null) throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `chunk ${chunk.index} of epoch ${epoch} refused: ${difference}`)
  const hash = rowsHash(rows)
  const blockHash = fromHex(body.blockHash, 32)
  const signature = fromHex(body.signature, 64)
  const key = fromHex(p.contributor, 32) as Uint8Array
  if (blockHash == null || signature == null || !ctx.verify(key, contributionSigningBytes({ epoch, blockHash, chunk, rowsHash: hash }), signature)) {
    throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `chunk ${chunk.index} of epoch ${epoch} refused: the contributor's signature does not verify`)
  }
  const contribution = { contributor: p.contributor, rows, rowsHash: toHex(hash), signature: toHex(signature), at: p.now }
  return { contribution, ...(anchor != null ? { anchor } : {}), table }
}

/**
 * The rows hash a verification of chunk `index` is about: the contribution's, or before the
 * contribution arrives, that of the chunk's slice of the table the round's block gives (which any
 * contribution must equal).
 */
export function verifiedRowsHash (round: RoundState, index: number, table: readonly RewardRow[] | undefined): string {
  const chunk = round.chunks[index]
  if (chunk?.contribution != null) return chunk.contribution.rowsHash
  if (chunk == null || round.anchor == null || table == null) throw new EphemeraError(ErrorCode.EPOCH_NOT_READY, `epoch ${round.epoch}'s round has no block yet: chunk ${index} is verified once the first contribution has brought it`)
  return toHex(rowsHash(table.slice(chunk.from, chunk.to)))
}

/** A verifier's finding for chunk `index`: consistent (ok ⇔ equal hashes) and signed by the verifier. */
export function checkVerification (ctx: ChunkCheckContext, p: { round: RoundState, index: number, table: readonly RewardRow[] | undefined, verifier: string, body: VerificationBody, now: number }): Verification {
  const { round, index, body } = p
  const epoch = round.epoch
  const chunk = round.chunks[index]
  if (chunk == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `epoch ${epoch} has ${round.chunks.length} chunks; there is no chunk ${index}`)
  if (round.anchor == null) throw new EphemeraError(ErrorCode.EPOCH_NOT_READY, `epoch ${epoch}'s round has no block yet: its chunks are verified once the first contribution has brought it`)
  const contributed = verifiedRowsHash(round, index, p.table)
  if (body.ok !== (body.ownRowsHash.toLowerCase() === contributed)) throw new EphemeraError(ErrorCode.BAD_REQUEST, `a verification says ok = ${String(body.ok)} but its rows hash ${body.ownRowsHash} ${body.ok ? 'differs from' : 'equals'} the contributed one`)
  const own = fromHex(body.ownRowsHash, 32)
  const signature = fromHex(body.signature, 64)
  const claim = { epoch, blockHash: fromHex(round.anchor.blockHash, 32) as Uint8Array, chunk, rowsHash: fromHex(contributed, 32) as Uint8Array }
  if (own == null || signature == null || !ctx.verify(fromHex(p.verifier, 32) as Uint8Array, verificationSigningBytes({ ...claim, ownRowsHash: own, ok: body.ok }), signature)) {
    throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `verification of chunk ${index} of epoch ${epoch} refused: the verifier's signature does not verify`)
  }
  return { verifier: p.verifier, ok: body.ok, ownRowsHash: toHex(own), signature: toHex(signature), at: p.now, ...(body.detail != null ? { detail: body.detail.slice(0, 500) } : {}) }
}
