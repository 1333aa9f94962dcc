import { equalBytes, toHex } from '../codec/bytes.js'
import { blockHash } from '../block/encoding.js'
import type { Block } from '../block/types.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { backoffDelay, sleep } from '../util/time.js'
import type { RbcTransport } from './transport.js'

export interface FetcherModules {
  transport: RbcTransport
  /** Members that echoed or readied the hash, now. */
  candidates: (round: number, creator: Uint8Array, hash: Uint8Array) => Uint8Array[]
  /** Whether the instance needs nothing more (delivered or closed). */
  settled: (round: number, creator: Uint8Array) => boolean
  /** Hands a fetched block (its hash checked) to the state machine. */
  onBlock: (block: Block) => Promise<void>
  logger: Logger
  now: () => number
}

/**
 * Fetches blocks known only by their hash (from READYs) from the members that voted for them,
 * with backoff, until the instance settles or the deadline passes. At most one loop per hash;
 * every loop is tracked, its errors are logged, and stop() waits for all of them.
 */
export class BlockFetcher {
  readonly #m: FetcherModules
  readonly #deadlineMs: number
  readonly #loops = new Map<string, Promise<void>>()
  #controller = new AbortController()

  constructor (deadlineMs: number, modules: FetcherModules) {
    this.#deadlineMs = deadlineMs
    this.#m = modules
  }

  get active (): number {
    return this.#loops.size
  }

  fetch (round: number, creator: Uint8Array, hash: Uint8Array, from: Uint8Array[]): void {
    const h = toHex(hash)
    if (this.#loops.has(h) || this.#controller.signal.aborted) return
    const loop = this.#loop(round, creator, hash, from, this.#controller.signal)
      .catch((err: unknown) => {
        if (!this.#controller.signal.aborted) this.#m.logger.warn({ round, hash: h, err: errorMessage(err) }, 'block fetch failed')
      })
      .finally(() => { this.#loops.delete(h) })
    this.#loops.set(h, loop)
  }

  async stop (): Promise<void> {
    this.#controller.abort()
    await Promise.allSettled([...this.#loops.values()])
    this.#controller = new AbortController()
  }

  async #loop (round: number, creator: Uint8Array, hash: Uint8Array, from: Uint8Array[], signal: AbortSignal): Promise<void> {
    const deadline = this.#m.now() + this.#deadlineMs
    for (let attempt = 0; !signal.aborted && this.#m.now() < deadline; attempt++) {
      if (this.#m.settled(round, creator)) return
      const candidates = this.#m.candidates(round, creator, hash)
      const block = await this.#m.transport.fetch(candidates.length > 0 ? candidates : from, round, creator, hash, signal).catch(() => undefined)
      if (block != null && equalBytes(blockHash(block.header), hash)) {
        await this.#m.onBlock(block)
        return
      }
      await sleep(backoffDelay(attempt, 200, 5_000), signal).catch(() => {})
    }
    if (!signal.aborted) this.#m.logger.warn({ round, hash: toHex(hash) }, 'could not fetch a block that members certified')
  }
}
