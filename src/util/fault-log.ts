import type { Logger } from './logger.js'

interface Entry {
  loggedAt: number
  suppressed: number
  fields: Record<string, unknown>
  message: string
}

/**
 * Logs repeated faults once per interval with a count: the first occurrence of a key is logged
 * at once; later ones within `intervalMs` are only counted, and the count is logged with the next
 * occurrence after the interval (or by flush()). A peer sending garbage a thousand times a second
 * yields one line a minute. The number of keys is bounded.
 */
export class FaultLog {
  readonly #logger: Logger
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #maxKeys: number
  readonly #entries = new Map<string, Entry>()

  constructor (logger: Logger, opts: { intervalMs?: number, now?: () => number, maxKeys?: number } = {}) {
    this.#logger = logger
    this.#intervalMs = opts.intervalMs ?? 60_000
    this.#now = opts.now ?? Date.now
    this.#maxKeys = opts.maxKeys ?? 1_000
  }

  /** A fault of kind `key` (e.g. "undecodable frame from <peer>"). */
  report (key: string, fields: Record<string, unknown>, message: string): void {
    const now = this.#now()
    const entry = this.#entries.get(key)
    if (entry != null && now - entry.loggedAt < this.#intervalMs) {
      entry.suppressed++
      entry.fields = fields
      return
    }
    const repeated = entry?.suppressed ?? 0
    this.#logger.warn(repeated > 0 ? { ...fields, repeatedSinceLastLog: repeated } : fields, message)
    if (entry == null && this.#entries.size >= this.#maxKeys) {
      const oldest = this.#entries.keys().next().value
      if (oldest != null) this.#entries.delete(oldest)
    }
    this.#entries.delete(key)
    this.#entries.set(key, { loggedAt: now, suppressed: 0, fields, message })
  }

  /** Logs the counts still pending (e.g. at shutdown) and forgets them. */
  flush (): void {
    for (const entry of this.#entries.values()) {
      if (entry.suppressed > 0) this.#logger.warn({ ...entry.fields, repeatedSinceLastLog: entry.suppressed }, entry.message)
    }
    this.#entries.clear()
  }
}
