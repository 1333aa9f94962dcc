import type { Database, Repository } from './database.js'
import { Bucket } from './buckets.js'

/** Facts about this data directory that survive restarts. */
export interface NodeMeta {
  /** PeerId that created the data dir: a different key on the same data is refused. */
  peerId: string
  createdAt: string
  lastStartedAt: string
  starts: number
}

export class NodeMetaStore {
  readonly #repo: Repository<NodeMeta>

  constructor (db: Database) {
    this.#repo = db.jsonRepository<NodeMeta>(Bucket.meta)
  }

  async get (): Promise<NodeMeta | undefined> {
    return await this.#repo.get('node')
  }

  /** Records a start; returns the updated record. */
  async recordStart (peerId: string, now: Date): Promise<NodeMeta> {
    const previous = await this.get()
    const meta: NodeMeta = {
      peerId: previous?.peerId ?? peerId,
      createdAt: previous?.createdAt ?? now.toISOString(),
      lastStartedAt: now.toISOString(),
      starts: (previous?.starts ?? 0) + 1
    }
    await this.#repo.put('node', meta)
    return meta
  }
}
