import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { Bucket, type BucketName } from './buckets.js'
import { openFailure, recoveryLosses } from './open-diagnostics.js'

type Bytes = Uint8Array


export interface Repository<V> {
  get: (key: string) => Promise<V | undefined>
  put: (key: string, value: V, opts?: WriteOptions) => Promise<void>
  del: (key: string, opts?: WriteOptions) => Promise<void>
  entries: (opts?: RangeOptions) => AsyncIterable<[string, V]>
}

export interface WriteOptions {
  /**
   * Resolve only once the write is on disk (fsync): it then survives power loss, not only a
   * crash of the process. Without it a resolved write is in the OS page cache (survives kill -9).
   * Use it for anything the process acknowledges to others (signed votes, records, answers).
   */
  sync?: boolean
}

export interface DatabaseOptions {
  /**
   * Called once, synchronously, at the first storage failure (see Database), before the failing
   * call rejects. The process should stop acknowledging anything and exit (fail-stop).
   */
  onFatal?: (err: EphemeraError) => void
  /** Told the time of every write and about every failed read or write (metrics). */
  observer?: StorageObserver
}

/** What the database tells its observer (the process's metrics, src/metrics/storage-metrics.ts). */
export interface StorageObserver {
  /** A write (put, delete or atomic batch; write()s grouped into one batch count once) completed in LevelDB after `seconds` (queueing behind other writes not included); `sync`: with fsync. */
  written: (seconds: number, sync: boolean) => void
  /** A read or write failed: LevelDB's error, or a write refused because the store has failed. */
  failed: (operation: 'read' | 'write') => void
}

export interface RangeOptions {
  gt?: string
  gte?: string
  lt?: string
  lte?: string
  limit?: number
  reverse?: boolean
}

/** One operation of an atomic write (Database.write). */
export interface WriteOp {
  type: 'put' | 'del'
  bucket: BucketName
  key: string
  value?: Bytes
}

const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

export function jsonBytes (value: unknown): Bytes {
  return textEncoder.encode(JSON.stringify(value))
}

export function parseJsonBytes<V> (bytes: Bytes): V {
  return JSON.parse(textDecoder.decode(bytes)) as V
}

/** A bucket of binary values. */
export class BinaryBucket {
  readonly name: BucketName
  readonly #sub: ReturnType<Level<string, Bytes>['sublevel']>
  readonly #guard: StorageGuard

  constructor (name: BucketName, sub: ReturnType<Level<string, Bytes>['sublevel']>, guard: StorageGuard) {
    this.name = name
    this.#sub = sub
    this.#guard = guard
  }

  async get (key: string): Promise<Bytes | undefined> {
    try {
      return await this.#sub.get(key) as Bytes | undefined
    } catch (err) {
      throw this.#guard.readFailed(err)
    }
  }

  /**
   * A point read on the event loop (LevelDB's memtable, then its Bloom filters and block cache):
   * no thread-pool round trip, for lookups on a hot path that usually miss.
   */
  getSync (key: string): Bytes | undefined {
    try {
      return this.#sub.getSync(key) as Bytes | undefined
    } catch (err) {
      throw this.#guard.readFailed(err)
    }
  }

  async put (key: string, value: Bytes, opts: WriteOptions = {}): Promise<void> {
    await this.#guard.write(async () => { await this.#sub.put(key, value as unknown as string, levelOptions(opts) as never) }, opts)
  }

  async del (key: string, opts: WriteOptions = {}): Promise<void> {
    await this.#guard.write(async () => { await this.#sub.del(key, levelOptions(opts) as never) }, opts)
  }

  async * entries (opts: RangeOptions = {}): AsyncIterable<[string, Bytes]> {
    try {
      for await (const [k, v] of this.#sub.iterator({ ...opts, limit: opts.limit ?? -1 })) yield [k, v as unknown as Bytes]
    } catch (err) {
      // only the iterator's own errors land here: a consumer's throw ends the loop via return()
      throw this.#guard.readFailed(err)
    }
  }

  async * keys (opts: RangeOptions = {}): AsyncIterable<string> {
    try {
      for await (const k of this.#sub.keys({ ...opts, limit: opts.limit ?? -1 })) yield k
    } catch (err) {
      throw this.#guard.readFailed(err)
    }
  }

  /** @internal the sublevel, for Database.write */
  get sublevel (): ReturnType<Level<string, Bytes>['sublevel']> {
    return this.#sub
  }
}

const SYNC = Object.freeze({ sync: true })

/** LevelDB's write options: none at all for an unsynced write (abstract-level's fast path). */
function levelOptions (opts: WriteOptions): typeof SYNC | undefined {
  return opts.sync === true ? SYNC : undefined
}

/** What a bucket needs from its database: the serialised, fail-stop write path and read checks. */
interface StorageGuard {
  write: (run: () => Promise<void>, opts: WriteOptions) => Promise<void>
  readFailed: (err: unknown) => unknown
}

/** LevelDB errors that mean the store itself is broken (a read that meets one fails the store). */
const STORAGE_ERROR_CODES = new Set(['LEVEL_IO_ERROR', 'LEVEL_CORRUPTION'])
/** Errors abstract-level raises before anything reaches LevelDB: the caller's bug, nothing written. */
const ARGUMENT_ERROR_CODES = new Set(['LEVEL_INVALID_KEY', 'LEVEL_INVALID_VALUE'])

function levelCode (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** LevelDB's own message, e.g. "IO error: /data/db/000003.log: No space left on device". */
function levelMessage (err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause
  const own = err instanceof Error ? err.message : String(err)
  // abstract-level wraps open failures ("Database failed to open") around LevelDB's status
  return cause instanceof Error && levelCode(err) === 'LEVEL_DATABASE_NOT_OPEN' ? cause.message : own
}

/**
 * The level database, fail-stop. LevelDB answers a failed write of its log (ENOSPC, EIO) to that
 * caller only and keeps accepting later writes behind the torn record, and on reopen it silently
 * drops those later, acknowledged records (paranoid checks are off). So at the first failed write
 * the database marks itself failed, calls `onFatal` once, and from then on refuses every write
 * with ERR_STORAGE_FAILED without reaching LevelDB again; the torn record stays the log's last,
 * which LevelDB's recovery drops cleanly (a truncated tail), keeping every earlier record.
 *
 * Writes are serialised (one in LevelDB at a time), so a write that resolved was appended before
 * any write that failed, and no write can land behind a torn one: a write still queued when one
 * fails is refused. A read that meets an I/O error or corruption fails the store the same way.
 */
export class Database {
  readonly path: string
  readonly #db: Level<string, Bytes>
  readonly #buckets = new Map<BucketName, BinaryBucket>()
  readonly #onFatal: ((err: EphemeraError) => void) | undefined
  readonly #observer: StorageObserver | undefined
  readonly #guard: StorageGuard
  #status: 'closed' | 'open' | 'closing' = 'closed'
  #failure: EphemeraError | undefined
  #tail: Promise<void> = Promise.resolve()
  /** The last queued write() batch while it has not started: later write()s join it (group commit). */
  #joinable: { ops: WriteOp[], opts: WriteOptions, done: Promise<void> } | undefined
  #recovery: string[] = []

  private constructor (path: string, opts: DatabaseOptions) {
    this.path = path
    this.#onFatal = opts.onFatal
    this.#observer = opts.observer
    this.#db = new Level<string, Bytes>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.#guard = {
      write: async (run, writeOpts) => { await this.#serialisedWrite(run, writeOpts) },
      readFailed: (err) => this.#readFailed(err)
    }
  }

  /**
   * Opens (creating if needed) the database in `dir`. Refuses with a clear error (ERR_DB_LOCKED,
   * ERR_DB_FAILED) naming the store, LevelDB's message and what to do when it cannot.
   */
  static async open (dir: string, opts: DatabaseOptions = {}): Promise<Database> {
    const path = join(dir, 'db')
    try {
      await mkdir(path, { recursive: true })
    } catch (err) {
      throw new EphemeraError(ErrorCode.DB_FAILED, `cannot create data directory ${path}: ${(err as Error).message}`, { path })
    }
    const db = new Database(path, opts)
    try {
      await db.#db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      const code = cause?.code ?? levelCode(err)
      if (code === 'LEVEL_LOCKED') {
        throw new EphemeraError(ErrorCode.DB_LOCKED,
          `database ${path} is locked by another process (is another node already running with data_dir ${dir}?)`, { path })
      }
      throw new EphemeraError(ErrorCode.DB_FAILED, openFailure(path, dir, code, levelMessage(err)), { path, cause: levelMessage(err) }, { cause: err })
    }
    db.#status = 'open'
    try {
      // every bucket's sublevel opened now: a sublevel made later opens on a later tick, and
      // getSync refuses until it has
      await Promise.all(Object.values(Bucket).map(async (name) => { await db.bucket(name).sublevel.open() }))
    } catch (err) {
      await db.close().catch(() => {})
      throw new EphemeraError(ErrorCode.DB_FAILED, openFailure(path, dir, levelCode(err), levelMessage(err)), { path, cause: levelMessage(err) }, { cause: err })
    }
    db.#recovery = await recoveryLosses(path)
    return db
  }

  get isOpen (): boolean {
    return this.#status === 'open'
  }

  /** The first storage failure (ERR_STORAGE_FAILED), once there was one: every write is refused. */
  get failure (): EphemeraError | undefined {
    return this.#failure
  }

  /**
   * What LevelDB dropped while recovering its write-ahead log at this open, as it logged it (e.g.
   * "000003.log: dropping 25394 bytes; Corruption: checksum mismatch"); empty after a clean stop,
   * a crash or a fail-stop. Non-empty means records written before the last stop may be missing.
   */
  get recoveryLosses (): readonly string[] {
    return this.#recovery
  }

  /** A bucket of binary values (created once per name). */
  bucket (name: BucketName): BinaryBucket {
    let bucket = this.#buckets.get(name)
    if (bucket == null) {
      bucket = new BinaryBucket(name, this.#db.sublevel<string, Bytes>(name, { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as ReturnType<Level<string, Bytes>['sublevel']>, this.#guard)
      this.#buckets.set(name, bucket)
    }
    return bucket
  }

  /** A JSON-valued repository over one bucket. */
  jsonRepository<V> (name: BucketName): Repository<V> {
    const bucket = this.bucket(name)
    return {
      get: async (key) => {
        const raw = await bucket.get(key)
        return raw === undefined ? undefined : parseJsonBytes<V>(raw)
      },
      put: async (key, value, opts) => { await bucket.put(key, jsonBytes(value), opts) },
      del: async (key, opts) => { await bucket.del(key, opts) },
      entries: (opts = {}) => mapEntries(bucket.entries(opts), (raw) => parseJsonBytes<V>(raw))
    }
  }

  /**
   * Applies every operation atomically: after a crash, all or none of them are visible. With
   * `sync`, it returns only once the write is on disk (survives power loss, not only kill -9).
   * Rejects with ERR_STORAGE_FAILED once the store has failed.
   *
   * Group commit: write()s made while the one before them waits its turn are applied together,
   * in call order, in one LevelDB batch (synced if any of them asks for it), so a burst of synced
   * writes costs one fsync instead of one each; each still resolves only once its own operations
   * are written. A write joins only the last queued batch, so nothing is reordered.
   */
  async write (ops: WriteOp[], opts: WriteOptions = {}): Promise<void> {
    if (ops.length === 0 && this.#failure == null) return
    if (this.#failure != null) throw this.#refused()
    const open = this.#joinable
    if (open != null) {
      open.ops.push(...ops)
      if (opts.sync === true) open.opts.sync = true
      await open.done
      return
    }
    const batch: { ops: WriteOp[], opts: WriteOptions, done: Promise<void> } = { ops: [...ops], opts: { sync: opts.sync === true }, done: Promise.resolve() }
    batch.done = this.#serialisedWrite(async () => {
      if (this.#joinable === batch) this.#joinable = undefined
      await this.#db.batch(batch.ops.map((op) => op.type === 'put'
        ? { type: 'put' as const, sublevel: this.bucket(op.bucket).sublevel as never, key: op.key, value: op.value as Bytes }
        : { type: 'del' as const, sublevel: this.bucket(op.bucket).sublevel as never, key: op.key }), levelOptions(batch.opts) as never)
    }, batch.opts)
    this.#joinable = batch
    await batch.done
  }

  /** Waits for the writes already queued, then closes. Idempotent. */
  async close (): Promise<void> {
    if (this.#status !== 'open') return
    this.#status = 'closing'
    await this.#tail
    await this.#db.close()
    this.#status = 'closed'
  }

  /** One write at a time, in call order; refused at once (never reaching LevelDB) after a failure. */
  async #serialisedWrite (run: () => Promise<void>, opts: WriteOptions): Promise<void> {
    if (this.#failure != null) throw this.#refused()
    // whatever is queued after a write() batch closes it to later ones (they would jump ahead)
    this.#joinable = undefined
    const turn = this.#tail.then(async () => {
      if (this.#failure != null) throw this.#refused()
      const started = performance.now()
      try {
        await run()
      } catch (err) {
        this.#observer?.failed('write')
        throw this.#writeFailed(err)
      }
      this.#observer?.written((performance.now() - started) / 1000, opts.sync === true)
    })
    this.#tail = turn.then(() => {}, () => {})
    await turn
  }

  #writeFailed (err: unknown): unknown {
    const code = levelCode(err)
    // a write racing our own close, or a caller's bad argument: LevelDB's log was not touched
    if ((code === 'LEVEL_DATABASE_NOT_OPEN' && this.#status !== 'open') || (code != null && ARGUMENT_ERROR_CODES.has(code))) return err
    return this.#fail(err, 'write')
  }

  #readFailed (err: unknown): unknown {
    this.#observer?.failed('read')
    const code = levelCode(err)
    if (code == null || !STORAGE_ERROR_CODES.has(code)) return err
    return this.#fail(err, 'read')
  }

  /** Marks the store failed (once), tells onFatal, and returns the error for the failing call. */
  #fail (err: unknown, operation: 'write' | 'read'): EphemeraError {
    if (this.#failure != null) return this.#refusal()
    const cause = levelMessage(err)
    const failure = new EphemeraError(ErrorCode.STORAGE_FAILED,
      `storage failed: a ${operation} of ${this.path} failed (${cause}); nothing more is written or acknowledged. Free space on that disk (or fix it), then start the process again`,
      { path: this.path, operation, cause, levelCode: levelCode(err) }, { cause: err })
    this.#failure = failure
    try {
      this.#onFatal?.(failure)
    } catch {
      // a fatal handler must not turn one failure into another
    }
    return failure
  }

  /** A write refused without reaching LevelDB (the store has failed). */
  #refused (): EphemeraError {
    this.#observer?.failed('write')
    return this.#refusal()
  }

  #refusal (): EphemeraError {
    const failure = this.#failure as EphemeraError
    return new EphemeraError(ErrorCode.STORAGE_FAILED, `storage ${this.path} has failed (${String(failure.details.cause)}); refusing writes until the process restarts`,
      { ...failure.details }, { cause: failure })
  }
}

async function * mapEntries<R, V> (iterator: AsyncIterable<[string, R]>, decode: (raw: R) => V): AsyncIterable<[string, V]> {
  for await (const [key, raw] of iterator) yield [key, decode(raw)]
}
