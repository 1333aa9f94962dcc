import type { CertificateJson, HeaderJson } from '../block/json.js'
import type { RewardRow } from './aggregate.js'
import type { ChunkRange } from './chunks.js'
import type { ReportEntryJson } from './record.js'

/**
 * An epoch's round at the coordinator, as data (stored as JSON and served, rows left out, by
 * GET /contract/epochs/{e}/round). The transitions are in src/contract/round.ts.
 */

export type RoundStatus = 'open' | 'committed' | 'failed'

export interface Lease {
  holder: string
  /** Lease attempt within the round attempt: +1 each time a holder misses its deadline. */
  attempt: number
  /** When the lease was offered (its holder may acquire it from then on). */
  offeredAt: number
  /** When the holder acquired it (tryLock), if it did. */
  lockedAt?: number
  deadline: number
}

export interface Contribution {
  contributor: string
  rows: RewardRow[]
  rowsHash: string
  signature: string
  at: number
}

export interface Verification {
  verifier: string
  ok: boolean
  /** The hash of the rows the verifier derived from its own copy of the block. */
  ownRowsHash: string
  signature: string
  at: number
  /** A failed verification's reason, as the verifier gave it. */
  detail?: string
}

export interface ChunkState extends ChunkRange {
  lease: Lease
  contribution?: Contribution
  /** Assigned with the lease (they follow from its holder, then from the contributor); they may verify once the round has its block. */
  verifiers: string[]
  /** The assigned verifiers that have not verified by then are replaced by the next members. */
  verifyDeadline?: number
  verifications: Verification[]
}

/** The certified block an epoch's chunks are derived from: fixed by the first contribution. */
export interface Anchor {
  blockHash: string
  header: HeaderJson
  certificate: CertificateJson
  reports: ReportEntryJson[]
  /** The member whose contribution fixed it. */
  by: string
  at: number
}

export interface RoundEvent {
  at: number
  kind: 'lease-expired' | 'verifier-expired' | 'rollback' | 'verification-failed' | 'failed' | 'committed'
  detail: string
  /** lease-expired: the member (public key, hex) that let the lease expire (it counts as a missed epoch). */
  member?: string
}

export interface RoundState {
  epoch: number
  status: RoundStatus
  /** +1 at every stored change (nodes wait for the next one: GET …/round?since=version). */
  version: number
  /** Round attempt: +1 at each rollback. */
  attempt: number
  attemptStartedAt: number
  attemptDeadline: number
  /** After this the epoch is marked failed if it has not committed. */
  finalizationDeadline: number
  anchor?: Anchor
  chunks: ChunkState[]
  /** The most recent events (bounded by MAX_EVENTS), oldest first. */
  events: RoundEvent[]
  failure?: string
}
