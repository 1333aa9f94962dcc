import { Bucket, jsonBytes, parseJsonBytes, type Database } from '../storage/index.js'
import type { EpochRecordJson } from '../epochs/record.js'

/** Where the coordinator keeps its state; a level implementation below, in-memory ones in tests. */
export interface CoordinatorStore {
  genesis: () => Promise<number | undefined>
  setGenesis: (ms: number) => Promise<void>
  /** The epoch length the genesis was fixed with (epoch numbers depend on both). */
  epochMs: () => Promise<number | undefined>
  setEpochMs: (ms: number) => Promise<void>
  record: (epoch: number) => Promise<EpochRecordJson | undefined>
  /** Records by epoch: `limit` from `from` upwards (or downwards when reverse). */
  records: (opts: { from?: number, limit: number, reverse?: boolean }) => Promise<EpochRecordJson[]>
  /** Durably stores an accepted record (atomic, synced to disk). */
  commit: (record: EpochRecordJson) => Promise<void>
  /** Records a nonce as used; false if it already was. */
  useNonce: (key: string, timestamp: number) => Promise<boolean>
  pruneNonces: (beforeMs: number) => Promise<number>
}

const pad = (n: number): string => String(n).padStart(16, '0')

/**
 * The coordinator's state in the level database. What it acknowledges is on disk first: genesis,
 * epoch length and records are synced writes, and the API answers 200 only after commit()
 * resolved. A failed write fails the whole store (Database is fail-stop), so nothing is answered
 * after it.
 */
export class LevelCoordinatorStore implements CoordinatorStore {
  readonly #db: Database
  /** nonce key → request timestamp: claimed before the first await; pruned like the stored ones */
  readonly #nonces = new Map<string, number>()

  constructor (db: Database) {
    this.#db = db
  }

  async genesis (): Promise<number | undefined> {
    const raw = await this.#db.bucket(Bucket.contractMeta).get('genesis')
    return raw == null ? undefined : parseJsonBytes<number>(raw)
  }

  async setGenesis (ms: number): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractMeta, key: 'genesis', value: jsonBytes(ms) }], { sync: true })
  }

  async epochMs (): Promise<number | undefined> {
    const raw = await this.#db.bucket(Bucket.contractMeta).get('epoch-ms')
    return raw == null ? undefined : parseJsonBytes<number>(raw)
  }

  async setEpochMs (ms: number): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractMeta, key: 'epoch-ms', value: jsonBytes(ms) }], { sync: true })
  }

  async record (epoch: number): Promise<EpochRecordJson | undefined> {
    const raw = await this.#db.bucket(Bucket.contractRecord).get(pad(epoch))
    return raw == null ? undefined : parseJsonBytes<EpochRecordJson>(raw)
  }

  async records (opts: { from?: number, limit: number, reverse?: boolean }): Promise<EpochRecordJson[]> {
    const out: EpochRecordJson[] = []
    const range = opts.reverse === true
      ? { ...(opts.from != null ? { lte: pad(opts.from) } : {}), reverse: true, limit: opts.limit }
      : { gte: pad(opts.from ?? 0), limit: opts.limit }
    for await (const [, value] of this.#db.bucket(Bucket.contractRecord).entries(range)) out.push(parseJsonBytes<EpochRecordJson>(value))
    return out
  }

  async commit (record: EpochRecordJson): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractRecord, key: pad(record.epoch), value: jsonBytes(record) }], { sync: true })
  }

  /**
   * Not synced on its own: a submission's record is the next write, synced, and its fsync flushes
   * the log the nonce is in (unless LevelDB switched logs in between; it then syncs the old log's
   * table when it writes it). A nonce lost to power loss only reopens, within the skew window, a
   * replay of a request whose outcome stands: refused again, or 409 once the epoch is decided.
   */
  async useNonce (key: string, timestamp: number): Promise<boolean> {
    // claim it before the first await, so concurrent replays of one request cannot both pass
    if (this.#nonces.has(key)) return false
    this.#nonces.set(key, timestamp)
    if ((await this.#db.bucket(Bucket.contractNonce).get(key)) != null) return false
    await this.#db.bucket(Bucket.contractNonce).put(key, jsonBytes(timestamp))
    return true
  }

  /** Number of nonces held in memory (bounded by the prune rule, like the stored ones). */
  get noncesInMemory (): number {
    return this.#nonces.size
  }

  async pruneNonces (beforeMs: number): Promise<number> {
    // the same rule for the in-memory claims, including those never stored (a replay found on
    // disk, a request whose write failed): the timestamp check refuses them all by now
    for (const [key, timestamp] of this.#nonces) if (timestamp < beforeMs) this.#nonces.delete(key)
    const stale: string[] = []
    for await (const [key, value] of this.#db.bucket(Bucket.contractNonce).entries()) {
      if (parseJsonBytes<number>(value) < beforeMs) stale.push(key)
    }
    if (stale.length > 0) await this.#db.write(stale.map((key) => ({ type: 'del' as const, bucket: Bucket.contractNonce, key })))
    return stale.length
  }
}
