import { AbortError } from '../util/errors.js'
import { backoffDelay } from '../util/time.js'
import type { Envelope } from './wire.js'

export interface OutboxLimits {
  /** Most messages queued for one peer; the oldest go first when it overflows. */
  maxMessages: number
  /** Most bytes queued for one peer; the oldest go first when it overflows. */
  maxBytes: number
  /** Unacknowledged messages older than this are dropped. */
  maxAgeMs: number
  retransmitInitialMs: number
  retransmitMaxMs: number
}

export interface Queued {
  envelope: Envelope
  bytes: number
  enqueuedAt: number
  /** Sends so far. */
  attempts: number
  /** Not sent again before this time. */
  dueAt: number
}

/**
 * The messages waiting for one peer's acknowledgement, each with its own retransmission time:
 * a message the peer did not acknowledge (it deferred it) backs off exponentially on its own, and
 * a failed send backs off every message of the batch and holds new ones until the peer answers
 * again or reconnects. Bounded by count, bytes and age.
 */
export class Outbox {
  readonly peer: Uint8Array
  readonly #limits: OutboxLimits
  readonly #now: () => number
  readonly #queue = new Map<number, Queued>()
  #bytes = 0
  /** Consecutive failed sends. */
  failures = 0
  #heldUntil = 0
  #wake: (() => void) | undefined

  constructor (peer: Uint8Array, limits: OutboxLimits, now: () => number) {
    this.peer = peer
    this.#limits = limits
    this.#now = now
  }

  get size (): number {
    return this.#queue.size
  }

  get bytes (): number {
    return this.#bytes
  }

  /** Queues a message; returns how many old ones were dropped to make room. */
  add (envelope: Envelope, bytes: number): number {
    const now = this.#now()
    this.#queue.set(envelope.id, { envelope, bytes, enqueuedAt: now, attempts: 0, dueAt: Math.max(now, this.#heldUntil) })
    this.#bytes += bytes
    let dropped = 0
    while (this.#queue.size > this.#limits.maxMessages || (this.#bytes > this.#limits.maxBytes && this.#queue.size > 1)) {
      this.#delete(this.#queue.keys().next().value as number)
      dropped++
    }
    if (now >= this.#heldUntil) this.wake()
    return dropped
  }

  /** Drops messages older than maxAgeMs; returns how many. */
  expire (): number {
    const cutoff = this.#now() - this.#limits.maxAgeMs
    let dropped = 0
    for (const [id, q] of this.#queue) {
      if (q.enqueuedAt >= cutoff) break
      this.#delete(id)
      dropped++
    }
    return dropped
  }

  /** The due messages for one batch, oldest first, within the count and byte limits. */
  due (maxMessages: number, maxBytes: number): Queued[] {
    const now = this.#now()
    const batch: Queued[] = []
    let bytes = 0
    for (const q of this.#queue.values()) {
      if (q.dueAt > now) continue
      if (batch.length >= maxMessages || (batch.length > 0 && bytes + q.bytes > maxBytes)) break
      batch.push(q)
      bytes += q.bytes
    }
    return batch
  }

  /** When the next message is due (undefined when the queue is empty). */
  nextDue (): number | undefined {
    let next: number | undefined
    for (const q of this.#queue.values()) if (next == null || q.dueAt < next) next = q.dueAt
    return next
  }

  /** The peer answered: acknowledged messages leave, the others back off one by one. */
  settled (batch: readonly Queued[], acked: ReadonlySet<number>): void {
    const now = this.#now()
    this.failures = 0
    this.#heldUntil = 0
    for (const q of batch) {
      q.attempts++
      if (acked.has(q.envelope.id)) this.#delete(q.envelope.id)
      else q.dueAt = now + backoffDelay(q.attempts - 1, this.#limits.retransmitInitialMs, this.#limits.retransmitMaxMs)
    }
  }

  /** The send failed: the batch and everything queued after it wait for the backoff. */
  failed (batch: readonly Queued[]): void {
    this.failures++
    const delay = backoffDelay(this.failures - 1, this.#limits.retransmitInitialMs, this.#limits.retransmitMaxMs)
    this.#heldUntil = this.#now() + delay
    for (const q of batch) {
      q.attempts++
      q.dueAt = Math.max(q.dueAt, this.#heldUntil)
    }
  }

  /** The peer (re)connected: everything is due now. */
  reconnected (): void {
    this.failures = 0
    this.#heldUntil = 0
    const now = this.#now()
    for (const q of this.#queue.values()) q.dueAt = Math.min(q.dueAt, now)
    this.wake()
  }

  wake (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** Waits for a wake-up, `ms` (none: forever), or the abort. */
  async idle (ms: number | undefined, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new AbortError()
    await new Promise<void>((resolve) => {
      const timer = ms == null ? undefined : setTimeout(done, Math.max(0, ms))
      function done (): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      this.#wake = done
      signal.addEventListener('abort', done, { once: true })
    })
    if (signal.aborted) throw new AbortError()
  }

  #delete (id: number): void {
    const q = this.#queue.get(id)
    if (q == null) return
    this.#queue.delete(id)
    this.#bytes -= q.bytes
  }
}
