import type { ClientMessage } from './types.js'

const utf8 = new TextEncoder()

export interface MempoolOptions {
  maxMessages: number
  maxBytes: number
  /** Messages older than this (since arrival) are dropped. */
  maxAgeMs: number
}

export interface MempoolEntry {
  id: string
  message: ClientMessage
  receivedAt: number
  bytes: number
}

export type AddResult = 'added' | 'duplicate' | 'full'

/**
 * Accepted client messages waiting for a block: deduplicated by id, bounded by count, bytes and
 * age, taken out in arrival order. Pure (the clock is passed in).
 */
export class Mempool {
  readonly #opts: MempoolOptions
  readonly #entries = new Map<string, MempoolEntry>()
  /**
   * Ids recently delivered (oldest first, at most maxMessages): a gossip copy validated just
   * before the delivery must not bring the message back.
   */
  readonly #delivered = new Set<string>()
  #bytes = 0

  constructor (opts: MempoolOptions) {
    this.#opts = opts
  }

  get size (): number {
    return this.#entries.size
  }

  get bytes (): number {
    return this.#bytes
  }

  has (id: string): boolean {
    return this.#entries.has(id)
  }

  add (id: string, message: ClientMessage, now: number): AddResult {
    if (this.#entries.has(id) || this.#delivered.has(id)) return 'duplicate'
    // data + UTF-8 label + timestamp, key and signature
    const bytes = message.data.length + utf8.encode(message.label).length + 104
    if (this.#entries.size >= this.#opts.maxMessages || this.#bytes + bytes > this.#opts.maxBytes) return 'full'
    this.#entries.set(id, { id, message, receivedAt: now, bytes })
    this.#bytes += bytes
    return 'added'
  }

  /** Up to `limit` entries in arrival order that pass `filter`, left in the pool. */
  peek (limit: number, filter: (entry: MempoolEntry) => boolean = () => true): MempoolEntry[] {
    const out: MempoolEntry[] = []
    for (const entry of this.#entries.values()) {
      if (out.length >= limit) break
      if (filter(entry)) out.push(entry)
    }
    return out
  }

  remove (ids: Iterable<string>): number {
    let removed = 0
    for (const id of ids) {
      const entry = this.#entries.get(id)
      if (entry == null) continue
      this.#entries.delete(id)
      this.#bytes -= entry.bytes
      removed++
    }
    return removed
  }

  /** Removes messages that were delivered, and remembers them for a while so they are not added again. */
  delivered (ids: Iterable<string>): number {
    const list = [...ids]
    for (const id of list) {
      this.#delivered.delete(id)
      this.#delivered.add(id)
    }
    for (const id of this.#delivered) {
      if (this.#delivered.size <= this.#opts.maxMessages) break
      this.#delivered.delete(id)
    }
    return this.remove(list)
  }

  /** Drops entries older than maxAgeMs; returns how many. */
  prune (now: number): number {
    const expired: string[] = []
    for (const entry of this.#entries.values()) {
      if (now - entry.receivedAt > this.#opts.maxAgeMs) expired.push(entry.id)
    }
    return this.remove(expired)
  }
}
