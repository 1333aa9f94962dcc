import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { EphemeraError, ErrorCode } from '../util/errors.js'

type Bytes = Uint8Array

/**
 * The node's level database. Callers see typed stores over prefixed sublevels (buckets), never raw
 * keys. Bucket names are permanent: renaming one orphans its data.
 */
export const Bucket = {
  meta: 'meta',
  /** block hash (hex) → encoded block */
  block: 'block',
  /** block hash (hex) → encoded certificate */
  certificate: 'cert',
  /** block hash (hex) → delivery record (JSON) */
  blockInfo: 'block-info',
  /** local height (16 digits) → block hash (hex) */
  height: 'height',
  /** membership id (hex) → member list (JSON) */
  membership: 'membership',
  /** message id (hex) → {block, index} (JSON) */
  messageIndex: 'msg',
  /** `round:creator:kind` → hash: the RBC votes this node has sent */
  vote: 'vote',
  /** `round:creator:hash` → signed proposal kept as equivocation evidence */
  evidence: 'evidence',
  /** this node's own proposals (producer state) */
  producer: 'producer',
  /** simulated uptime samples: time (16 digits) → one byte per mixnode */
  metrics: 'metrics',
  /** rewards pipeline: epoch (16 digits) → per-epoch state (JSON) */
  epoch: 'epoch',
  /** rewards reports: `epoch:sender` → report message (CBOR) */
  report: 'report',
  /** official epoch records adopted from the coordinator: epoch → record (JSON) */
  official: 'official',
  /** equivocating reports: `epoch:sender:id` → report message (CBOR) */
  reportEvidence: 'report-evidence',
  /** coordinator: genesis and settings */
  contractMeta: 'contract-meta',
  /** coordinator: epoch (16 digits) → accepted record (JSON) */
  contractRecord: 'contract-record',
  /** coordinator: `publicKey:nonce` → timestamp of requests already accepted (replay protection) */
  contractNonce: 'contract-nonce'
} as const
export type BucketName = (typeof Bucket)[keyof typeof Bucket]

export interface Repository<V> {
  get: (key: string) => Promise<V | undefined>
  put: (key: string, value: V) => Promise<void>
  del: (key: string) => Promise<void>
  entries: (opts?: RangeOptions) => AsyncIterable<[string, V]>
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

  constructor (name: BucketName, sub: ReturnType<Level<string, Bytes>['sublevel']>) {
    this.name = name
    this.#sub = sub
  }

  async get (key: string): Promise<Bytes | undefined> {
    return await this.#sub.get(key) as Bytes | undefined
  }

  async put (key: string, value: Bytes): Promise<void> {
    await this.#sub.put(key, value as unknown as string)
  }

  async del (key: string): Promise<void> {
    await this.#sub.del(key)
  }

  async * entries (opts: RangeOptions = {}): AsyncIterable<[string, Bytes]> {
    for await (const [k, v] of this.#sub.iterator({ ...opts, limit: opts.limit ?? -1 })) yield [k, v as unknown as Bytes]
  }

  async * keys (opts: RangeOptions = {}): AsyncIterable<string> {
    for await (const k of this.#sub.keys({ ...opts, limit: opts.limit ?? -1 })) yield k
  }

  /** @internal the sublevel, for Database.write */
  get sublevel (): ReturnType<Level<string, Bytes>['sublevel']> {
    return this.#sub
  }
}

export class Database {
  readonly path: string
  readonly #db: Level<string, Bytes>
  readonly #buckets = new Map<BucketName, BinaryBucket>()
  #status: 'closed' | 'open' = 'closed'

  private constructor (path: string) {
    this.path = path
    this.#db = new Level<string, Bytes>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  /** Opens (creating if needed) the database in `dir`; a clear error if another process holds it. */
  static async open (dir: string): Promise<Database> {
    const path = join(dir, 'db')
    try {
      await mkdir(path, { recursive: true })
    } catch (err) {
      throw new EphemeraError(ErrorCode.DB_FAILED, `cannot create data directory ${path}: ${(err as Error).message}`, { path })
    }
    const db = new Database(path)
    try {
      await db.#db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if ((err as { code?: string }).code === 'LEVEL_LOCKED' || cause?.code === 'LEVEL_LOCKED') {
        throw new EphemeraError(ErrorCode.DB_LOCKED,
          `database ${path} is locked by another process (is another node already running with data_dir ${dir}?)`, { path })
      }
      throw new EphemeraError(ErrorCode.DB_FAILED, `cannot open database ${path}: ${(err as Error).message}`, { path }, { cause: err })
    }
    db.#status = 'open'
    return db
  }

  get isOpen (): boolean {
    return this.#status === 'open'
  }

  /** A bucket of binary values (created once per name). */
  bucket (name: BucketName): BinaryBucket {
    let bucket = this.#buckets.get(name)
    if (bucket == null) {
      bucket = new BinaryBucket(name, this.#db.sublevel<string, Bytes>(name, { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as ReturnType<Level<string, Bytes>['sublevel']>)
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
      put: async (key, value) => { await bucket.put(key, jsonBytes(value)) },
      del: async (key) => { await bucket.del(key) },
      entries: (opts = {}) => mapEntries(bucket.entries(opts), (raw) => parseJsonBytes<V>(raw))
    }
  }

  /**
   * Applies every operation atomically: after a crash, all or none of them are visible. With
   * `sync`, it returns only once the write is on disk (survives power loss, not only kill -9).
   */
  async write (ops: WriteOp[], opts: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return
    await this.#db.batch(ops.map((op) => op.type === 'put'
      ? { type: 'put' as const, sublevel: this.bucket(op.bucket).sublevel as never, key: op.key, value: op.value as Bytes }
      : { type: 'del' as const, sublevel: this.bucket(op.bucket).sublevel as never, key: op.key }), { sync: opts.sync === true } as never)
  }

  /** Idempotent. */
  async close (): Promise<void> {
    if (this.#status === 'closed') return
    this.#status = 'closed'
    await this.#db.close()
  }
}

async function * mapEntries<R, V> (iterator: AsyncIterable<[string, R]>, decode: (raw: R) => V): AsyncIterable<[string, V]> {
  for await (const [key, raw] of iterator) yield [key, decode(raw)]
}
