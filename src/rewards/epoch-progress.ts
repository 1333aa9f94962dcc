import { Bucket, jsonBytes, parseJsonBytes, RangePruner, type Database } from '../storage/index.js'
import type { ChunkProgress } from './chunk-duties.js'

export type EpochState = 'idle' | 'computing' | 'gossiping' | 'broadcasting' | 'submitting' | 'committed' | 'failed'

/** The persisted per-epoch pipeline state (GET /ephemera/rewards/epochs/{e}). */
export interface EpochProgress {
  epoch: number
  state: EpochState
  reason?: string
  startMs: number
  endMs: number
  samples?: number
  ownReport?: string
  reporters: string[]
  proposedBlock?: string
  block?: { hash: string, creator: string, reports: number }
  /** accepted: this node's contribution fixed the record's block (or its whole submission won); decided-by-another: its submission got 409; already-decided: the record existed before it submitted; learned-from-coordinator: it had no certified block and adopted the record. */
  submission?: 'accepted' | 'decided-by-another' | 'already-decided' | 'learned-from-coordinator'
  winner?: string
  officialBlockHash?: string | null
  times: { computedAt?: number, thresholdAt?: number, deliveredAt?: number, submittedAt?: number, committedAt?: number }
  /** The epoch's round at the coordinator, as this node last saw it (chunks contributed and verified, and its own part). */
  chunks?: ChunkProgress
  /** committedAt − endMs */
  latencyMs?: number
}

const pad = (n: number): string => String(n).padStart(16, '0')

/**
 * The pipeline states of recent epochs: in memory the last `keepInMemory` epochs, on disk
 * (bucket `epoch`) the last `keepStored` (pruned by ranges, so a prune never rescans what an
 * earlier one deleted).
 */
export class ProgressStore {
  readonly #db: Database
  readonly #opts: { keepInMemory: number, keepStored: number }
  readonly #pruner: RangePruner
  readonly #byEpoch = new Map<number, EpochProgress>()

  constructor (db: Database, opts: { keepInMemory: number, keepStored: number }) {
    this.#db = db
    this.#opts = opts
    this.#pruner = new RangePruner(db, Bucket.epoch)
  }

  get size (): number {
    return this.#byEpoch.size
  }

  get (epoch: number): EpochProgress | undefined {
    return this.#byEpoch.get(epoch)
  }

  has (epoch: number): boolean {
    return this.#byEpoch.has(epoch)
  }

  /** The newest `limit` states, newest first. */
  recent (limit: number): EpochProgress[] {
    return [...this.#byEpoch.values()].sort((a, b) => b.epoch - a.epoch).slice(0, limit)
  }

  /** After a restart: the stored states of the newest `keepInMemory` epochs, newest first. */
  async load (): Promise<EpochProgress[]> {
    const out: EpochProgress[] = []
    for await (const [, value] of this.#db.bucket(Bucket.epoch).entries({ reverse: true, limit: this.#opts.keepInMemory })) {
      const p = parseJsonBytes<EpochProgress>(value)
      this.#byEpoch.set(p.epoch, p)
      out.push(p)
    }
    return out
  }

  /**
   * Stores `p` as it is now (serialised at the call). The database applies writes in the order
   * they were made, so a pipeline may go on while one is under way (and await it later) without
   * an older state overwriting a newer one.
   */
  async put (p: EpochProgress): Promise<void> {
    this.#byEpoch.set(p.epoch, p)
    await this.#db.bucket(Bucket.epoch).put(pad(p.epoch), jsonBytes(p))
  }

  /** Forgets what is too old at `epoch`: in memory and on disk. */
  async prune (epoch: number): Promise<void> {
    for (const e of this.#byEpoch.keys()) if (e < epoch - this.#opts.keepInMemory) this.#byEpoch.delete(e)
    await this.#pruner.pruneBelow(pad(Math.max(0, epoch - this.#opts.keepStored)))
  }
}
