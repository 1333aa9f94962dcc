import { compareBytes, toHex } from '../codec/bytes.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { BroadcastEngine } from './engine.js'
import type { MempoolEntry } from '../block/mempool.js'

export interface ProducerOptions {
  intervalMs: number
  maxMessages: number
  /**
   * Each message has one designated creator (by its id), so that usually exactly one block
   * carries it; any member includes it once it has waited this long (its creator may be down).
   */
  designatedFallbackMs: number
}

/**
 * Produces a block on an interval when the mempool holds messages this node should include and
 * none of its own blocks is still in flight.
 */
export class BlockProducer {
  readonly #opts: ProducerOptions
  readonly #engine: BroadcastEngine
  readonly #logger: Logger
  readonly #now: () => number
  readonly #selfIndex: number
  readonly #n: number
  #timer: NodeJS.Timeout | undefined
  #busy = false

  constructor (opts: ProducerOptions, modules: { engine: BroadcastEngine, logger: Logger, now?: () => number }) {
    this.#opts = opts
    this.#engine = modules.engine
    this.#logger = modules.logger
    this.#now = modules.now ?? Date.now
    const sorted = [...modules.engine.members.map((m) => m.publicKey)].sort(compareBytes).map(toHex)
    this.#selfIndex = sorted.indexOf(toHex(modules.engine.selfPublicKey))
    this.#n = sorted.length
  }

  start (): void {
    if (this.#timer != null) return
    this.#timer = setInterval(() => { void this.tick() }, this.#opts.intervalMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Index (into members sorted by public key) of the member designated to include message `id`. */
  designatedIndex (id: string): number {
    return parseInt(id.slice(0, 8), 16) % this.#n
  }

  #eligible = (entry: MempoolEntry): boolean =>
    this.designatedIndex(entry.id) === this.#selfIndex || this.#now() - entry.receivedAt >= this.#opts.designatedFallbackMs

  /** One production attempt; returns the proposed hash, if any. */
  async tick (): Promise<string | undefined> {
    if (this.#busy || this.#engine.pendingOwnRounds.length > 0) return undefined
    const entries = this.#engine.mempool.peek(this.#opts.maxMessages, this.#eligible)
    if (entries.length === 0) return undefined
    this.#busy = true
    try {
      const { hash } = await this.#engine.proposeBlock({ messages: entries.map((e) => e.message) })
      return toHex(hash)
    } catch (err) {
      // should not happen (messages were checked on admission); drop them rather than retry forever
      this.#engine.mempool.remove(entries.map((e) => e.id))
      this.#logger.warn({ err: errorMessage(err), dropped: entries.length }, 'block production failed')
      return undefined
    } finally {
      this.#busy = false
    }
  }
}
