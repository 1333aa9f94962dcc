import { ByteWriter } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import type { RewardRow } from './aggregate.js'

/**
 * An epoch's reward table is uploaded to the coordinator in chunks: contiguous mixnode ranges of
 * `chunkSize` (the last one shorter). Each chunk's rows are hashed and signed by the member that
 * uploads them, and each verifier signs what it found (docs/PROTOCOL.md §7.6). These layouts are
 * byte-exact: the coordinator, the nodes and `ephemera verify` all rebuild them.
 */

export interface ChunkRange {
  index: number
  /** First mixnode of the chunk. */
  from: number
  /** One past the last mixnode. */
  to: number
}

/** Most chunks an epoch may have (keeps every per-epoch structure of the coordinator bounded). */
export const MAX_CHUNKS = 1024

/** The chunks of a table of `mixnodes` rows. */
export function chunkRanges (mixnodes: number, chunkSize: number): ChunkRange[] {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`)
  const count = Math.ceil(mixnodes / chunkSize)
  if (count > MAX_CHUNKS) throw new RangeError(`${mixnodes} mixnodes in chunks of ${chunkSize} make ${count} chunks, more than ${MAX_CHUNKS}`)
  return Array.from({ length: count }, (_, index) => ({ index, from: index * chunkSize, to: Math.min(mixnodes, (index + 1) * chunkSize) }))
}

const NO_PERFORMANCE = 0xffff

/**
 * rowsHash = SHA-256( tag("ephemera/chunk-rows/v1") ‖ u32(count) ‖ count × row ), where
 * row = u32(mixnode) ‖ u16(performance, 0xFFFF for null) ‖ u32(values) ‖ string16(reward decimal).
 */
export function rowsHash (rows: readonly RewardRow[]): Uint8Array {
  const w = new ByteWriter().tag('ephemera/chunk-rows/v1').u32(rows.length)
  for (const row of rows) {
    w.u32(row.mixnode).u16(row.performance ?? NO_PERFORMANCE).u32(row.values).string16(row.reward)
  }
  return sha256(w.finish())
}

export interface ChunkClaim {
  epoch: number
  /** The certified block the rows are derived from. */
  blockHash: Uint8Array
  chunk: ChunkRange
  rowsHash: Uint8Array
}

/**
 * What the contributor of a chunk signs:
 * tag("ephemera/chunk/v1") ‖ u64(epoch) ‖ blockHash(32) ‖ u32(index) ‖ u32(from) ‖ u32(to) ‖ rowsHash(32).
 */
export function contributionSigningBytes (c: ChunkClaim): Uint8Array {
  return new ByteWriter().tag('ephemera/chunk/v1').u64(c.epoch).bytes(c.blockHash)
    .u32(c.chunk.index).u32(c.chunk.from).u32(c.chunk.to).bytes(c.rowsHash).finish()
}

/**
 * What a verifier signs: tag("ephemera/chunk-verification/v1") ‖ u64(epoch) ‖ blockHash(32) ‖
 * u32(index) ‖ contributed rowsHash(32) ‖ own rowsHash(32) ‖ u8(1 if they are equal, else 0).
 * "Own" is the hash of the rows the verifier computed from its own copy of the block.
 */
export function verificationSigningBytes (v: ChunkClaim & { ownRowsHash: Uint8Array, ok: boolean }): Uint8Array {
  return new ByteWriter().tag('ephemera/chunk-verification/v1').u64(v.epoch).bytes(v.blockHash)
    .u32(v.chunk.index).bytes(v.rowsHash).bytes(v.ownRowsHash).u8(v.ok ? 1 : 0).finish()
}

/** A verifier's signed finding, as kept in an epoch record. */
export interface ChunkVerificationJson {
  verifier: string
  ok: boolean
  ownRowsHash: string
  signature: string
}

/** A committed chunk, as kept in an epoch record: who uploaded it and who verified it. */
export interface ChunkRecordJson extends ChunkRange {
  contributor: string
  rowsHash: string
  signature: string
  verifications: ChunkVerificationJson[]
}
