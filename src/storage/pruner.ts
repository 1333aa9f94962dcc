import type { BucketName } from './buckets.js'
import type { Database } from './database.js'

/**
 * Deletes a bucket's keys below a moving bound (time- or epoch-ordered keys), each call resuming
 * where the previous one stopped: LevelDB keeps deleted keys as tombstones until compaction, and a
 * scan from the start would walk all of them again, growing slower with history.
 */
export class RangePruner {
  readonly #db: Database
  readonly #bucket: BucketName
  #from = ''

  constructor (db: Database, bucket: BucketName) {
    this.#db = db
    this.#bucket = bucket
  }

  /** Deletes every key < `below` (not scanned before); returns the deleted keys. */
  async pruneBelow (below: string): Promise<string[]> {
    if (below <= this.#from) return []
    const keys: string[] = []
    for await (const key of this.#db.bucket(this.#bucket).keys({ gte: this.#from, lt: below })) keys.push(key)
    if (keys.length > 0) await this.#db.write(keys.map((key) => ({ type: 'del' as const, bucket: this.#bucket, key })))
    this.#from = below
    return keys
  }
}
