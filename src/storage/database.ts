import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { EphemeraError, ErrorCode } from '../util/errors.js'

type Bytes = Uint8Array

/**
 * The node's level database. Callers see typed repositories over prefixed sublevels (buckets),
 * never raw keys. Bucket names are permanent: renaming one orphans its data.
 */
export const Bucket = {
  meta: 'meta'
} as const
export type BucketName = (typeof Bucket)[keyof typeof Bucket]

export interface Repository<V> {
  get: (key: string) => Promise<V | undefined>
  put: (key: string, value: V) => Promise<void>
  del: (key: string) => Promise<void>
  entries: (opts?: { gte?: string, lt?: string, limit?: number, reverse?: boolean }) => AsyncIterable<[string, V]>
}

export class Database {
  readonly path: string
  readonly #db: Level<string, Bytes>
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

  /** A JSON-valued repository over one bucket. */
  jsonRepository<V> (bucket: BucketName): Repository<V> {
    const sub = this.#db.sublevel<string, string>(bucket, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    return {
      get: async (key) => {
        const raw = await sub.get(key)
        return raw === undefined ? undefined : JSON.parse(raw) as V
      },
      put: async (key, value) => { await sub.put(key, JSON.stringify(value)) },
      del: async (key) => { await sub.del(key) },
      entries: (opts = {}) => mapEntries(sub.iterator({ ...opts, limit: opts.limit ?? -1 }), (raw) => JSON.parse(raw) as V)
    }
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
