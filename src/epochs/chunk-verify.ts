import { fromHex, toHex } from '../codec/bytes.js'
import type { VerifyFn } from '../block/validate.js'
import type { Check } from '../block/verify.js'
import type { RewardRow } from './aggregate.js'
import { contributionSigningBytes, rowsHash, verificationSigningBytes, type ChunkRecordJson } from './chunks.js'

export interface ChunkContext {
  epoch: number
  blockHash: string
  /** The whole reward table (already checked against the reports). */
  rewards: readonly RewardRow[]
  /** Committee public keys, hex. */
  members: readonly string[]
  /** Verifications each chunk needs (at most n − 1 apply). */
  verifiersPerChunk: number
  verify: VerifyFn
}

/**
 * The chunk part of a record's verification (docs/PROTOCOL.md §7.6): the chunks tile the table in
 * order; each chunk's rowsHash is the hash of its rows of the table; its contributor is a member
 * and signed it; it has the required number of verifications, by distinct members other than the
 * contributor, each of which found the same rows and signed that. (Which members the coordinator
 * assigned is its scheduling, not part of what makes the result valid.)
 */
export function chunkChecks (chunks: readonly ChunkRecordJson[], ctx: ChunkContext): Check[] {
  const checks: Check[] = []
  const sorted = [...ctx.members].sort()
  const blockHash = fromHex(ctx.blockHash, 32)
  let expectedFrom = 0
  let tiling: string | undefined
  let problem: string | undefined
  let verifications = 0
  for (const [i, c] of chunks.entries()) {
    if (c.index !== i || c.from !== expectedFrom || c.to <= c.from || c.to > ctx.rewards.length) tiling ??= `chunk ${i} covers [${c.from}, ${c.to}), expected index ${i} from ${expectedFrom}`
    expectedFrom = c.to
    if (problem != null || tiling != null) continue
    problem = chunkProblem(c, ctx, sorted, blockHash)
    verifications += c.verifications.length
  }
  if (tiling == null && expectedFrom !== ctx.rewards.length) tiling = `the chunks cover ${expectedFrom} of ${ctx.rewards.length} rows`
  checks.push({ name: 'chunks', ok: tiling == null, detail: tiling ?? `${chunks.length} chunks cover the ${ctx.rewards.length} rows` })
  if (tiling == null) checks.push({ name: 'chunk signatures', ok: problem == null, detail: problem ?? `${chunks.length} contributions and ${verifications} verifications signed by their assigned members` })
  return checks
}

function chunkProblem (c: ChunkRecordJson, ctx: ChunkContext, members: readonly string[], blockHash: Uint8Array | undefined): string | undefined {
  if (blockHash == null) return 'the block hash is not 32 bytes of hex'
  const hash = rowsHash(ctx.rewards.slice(c.from, c.to))
  if (toHex(hash) !== c.rowsHash) return `chunk ${c.index}: rowsHash ${c.rowsHash} is not the hash of rows ${c.from}–${c.to - 1} of the table`
  if (!members.includes(c.contributor)) return `chunk ${c.index}: contributor ${c.contributor} is not a member`
  const claim = { epoch: ctx.epoch, blockHash, chunk: c, rowsHash: hash }
  if (!signedBy(c.contributor, c.signature, contributionSigningBytes(claim), ctx.verify)) return `chunk ${c.index}: the contributor's signature does not verify`
  const needed = Math.min(ctx.verifiersPerChunk, members.length - 1)
  const named = new Set(c.verifications.map((v) => v.verifier))
  if (c.verifications.length < needed || named.size !== c.verifications.length) return `chunk ${c.index}: ${named.size} distinct verifiers, ${needed} needed`
  for (const v of named) if (v === c.contributor || !members.includes(v)) return `chunk ${c.index}: verifier ${v} is ${v === c.contributor ? 'its contributor' : 'not a member'}`
  for (const v of c.verifications) {
    if (!v.ok || v.ownRowsHash !== c.rowsHash) return `chunk ${c.index}: verifier ${v.verifier} did not find the same rows`
    if (!signedBy(v.verifier, v.signature, verificationSigningBytes({ ...claim, ownRowsHash: hash, ok: true }), ctx.verify)) return `chunk ${c.index}: the signature of verifier ${v.verifier} does not verify`
  }
  return undefined
}

function signedBy (publicKey: string, signature: string, bytes: Uint8Array, verify: VerifyFn): boolean {
  const key = fromHex(publicKey, 32)
  const sig = fromHex(signature, 64)
  return key != null && sig != null && verify(key, bytes, sig)
}
