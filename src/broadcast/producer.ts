import { compareBytes, equalBytes, toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { BroadcastEngine } from './engine.js'
import type { MempoolEntry } from '../block/mempool.js'

export interface ProducerOptions {
  intervalMs: number
  maxMessages: number
  /**
   * Each message has one designated creator (by its id), so that usually exactly one block
   * carries it. The other members take it in turn, by rank: the member k places after the
   * designated one includes it after waiting k times this long (the designated one may be down).
   */
  designatedFallbackMs: number
}

/**
 * Produces a block on an interval when the mempool holds messages this node should include and
 * none of its own blocks is still in flight. A message is included at least once: by its
 * designated member at once, by the others in rank order only when it is still waiting; one that
 * rides in a block this node has echoed is left alone while that block is on its way.
 */
export class BlockProducer {
  readonly #opts: ProducerOptions
  readonly #engine: BroadcastEngine
  readonly #logger: Logger
  readonly #now: () => number
  readonly #selfIndex: number
  readonly #n: number
  /** message id → until when it is left to a block this node echoed (bounded by the mempool). */
  readonly #held = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #offEchoed: (() => void) | undefined
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
    this.#offEchoed = this.#engine.onEchoed((block) => {
      if (equalBytes(block.header.creator, this.#engine.selfPublicKey)) return
      const until = this.#now() + this.#n * this.#opts.designatedFallbackMs
      for (const m of block.messages) this.#held.set(toHex(messageId(m)), until)
    })
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#offEchoed?.()
    this.#held.clear()
  }

  /** Index (into members sorted by public key) of the member designated to include message `id`. */
  designatedIndex (id: string): number {
    return parseInt(id.slice(0, 8), 16) % this.#n
  }

  /** This node's place after the designated member of message `id` (0: it is the designated one). */
  rank (id: string): number {
    return (this.#selfIndex - this.designatedIndex(id) + this.#n) % this.#n
  }

  #eligible = (entry: MempoolEntry): boolean => {
    const now = this.#now()
    if ((this.#held.get(entry.id) ?? 0) > now) return false
    return now - entry.receivedAt >= this.rank(entry.id) * this.#opts.designatedFallbackMs
  }

  /** One production attempt; returns the proposed hash, if any. */
  async tick (): Promise<string | undefined> {
    if (this.#busy || this.#engine.pendingOwnRounds.length > 0) return undefined
    const now = this.#now()
    for (const [id, until] of this.#held) if (until <= now || !this.#engine.mempool.has(id)) this.#held.delete(id)
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
