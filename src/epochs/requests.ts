import * as z from 'zod'
import type { ErrorCodeValue } from '../util/errors.js'
import type { RewardRow } from './aggregate.js'
import type { ChunkRange } from './chunks.js'
import { rewardRowSchema } from './record.js'
import type { CertificateJson, HeaderJson } from '../block/json.js'
import type { ReportEntryJson } from './record.js'
import type { Contribution, Lease, RoundState } from './round-types.js'

/** The bodies and answers of the round lifecycle's requests (README "Coordinator API"). */

/** The certified block a first contribution carries: sent once per epoch, not per chunk. */
export interface AnchorBody {
  header: HeaderJson
  certificate: CertificateJson
  reports: ReportEntryJson[]
}


/** What tryLock answers. */
export interface LockGrant {
  epoch: number
  /** The round attempt (rotations depend on it). */
  attempt: number
  chunk: ChunkRange
  lease: Lease
  /** The block the epoch's chunks derive from, once the first contribution fixed it. */
  blockHash: string | null
}

/** A chunk upload: its rows, derived from `blockHash`, signed; the block itself when it is the epoch's first. */
export interface ContributionBody {
  blockHash: string
  rows: RewardRow[]
  signature: string
  block?: AnchorBody
}

/** Uploads of several chunks derived from one block (the block itself when the round has none yet). */
export interface ContributionsBody {
  blockHash: string
  block?: AnchorBody
  chunks: Array<{ chunk: number, rows: RewardRow[], signature: string }>
  /** Acquire each chunk's offered lease first, in the same step (tryLock and tryContribute at once). */
  lock?: boolean
  /** The sender's verifications, taken in the same step after its chunks (tryVerify). */
  verifications?: Array<VerificationBody & { chunk: number }>
}

/** One chunk's outcome in a request for several: its value, or why it was refused (an error code and message). */
export type ItemResult<T> = { chunk: number, ok: true, value: T } | { chunk: number, ok: false, code: ErrorCodeValue, message: string }

/** A verifier's finding for a chunk. */
export interface VerificationBody {
  ok: boolean
  ownRowsHash: string
  signature: string
  detail?: string
}

const hex = (bytes: number): z.ZodString => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes} bytes of hex`)

/** Shape check of a contribution body (content is checked by tryContribute). */
export const contributionSchema = z.object({
  blockHash: hex(32),
  rows: z.array(rewardRowSchema).max(30_000),
  signature: hex(64),
  block: z.object({
    header: z.record(z.string(), z.unknown()),
    certificate: z.record(z.string(), z.unknown()),
    reports: z.array(z.object({ message: z.record(z.string(), z.unknown()), proof: z.object({ index: z.number().int().min(0), treeSize: z.number().int().min(1), path: z.array(z.string()).max(64) }).nullable() })).max(1000)
  }).optional()
})

/** Shape check of a verification body. */
export const verificationSchema = z.object({
  ok: z.boolean(),
  ownRowsHash: hex(32),
  signature: hex(64),
  detail: z.string().max(500).optional()
})

/** Verifications of several chunks, each naming its chunk. */
const chunkVerifications = z.array(verificationSchema.extend({ chunk: z.number().int().min(0).max(1023) })).max(1024)

/** Shape check of a batch of contributions (and the sender's verifications, taken after them). */
export const contributionsSchema = z.object({
  blockHash: hex(32),
  block: contributionSchema.shape.block,
  chunks: z.array(z.object({ chunk: z.number().int().min(0).max(1023), rows: z.array(rewardRowSchema).max(30_000), signature: hex(64) })).min(1).max(1024),
  lock: z.boolean().optional(),
  verifications: chunkVerifications.optional()
})

/** A round as served (GET /contract/epochs/{e}/round): rows and the block left out. */
export type RoundViewJson = Omit<RoundState, 'anchor' | 'chunks'> & {
  blockHash: string | null
  blockBy: string | null
  progress: { chunks: number, contributed: number, verified: number }
  chunks: Array<Omit<RoundState['chunks'][number], 'contribution'> & { contribution: Omit<Contribution, 'rows'> | null }>
  /** A member's view only (`?member=KEY`): a digest of its duties, to pass back as `unless`. */
  duties?: string
}

/** Shape check of a batch of verifications. */
export const verificationsSchema = z.object({
  verifications: chunkVerifications.min(1)
})

/** Shape check of a batch of locks. */
export const locksSchema = z.object({ chunks: z.array(z.number().int().min(0).max(1023)).min(1).max(1024) })
