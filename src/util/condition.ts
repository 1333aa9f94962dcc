import { AbortError } from './errors.js'

/**
 * Waits on conditions over shared state: whoever changes the state calls notify(), and every
 * waiter re-checks its condition. Deadlines are in the injected clock's time.
 */
export class ConditionWaiters {
  readonly #clock: () => number
  readonly #waiters = new Set<() => void>()

  constructor (clock: () => number = Date.now) {
    this.#clock = clock
  }

  get size (): number {
    return this.#waiters.size
  }

  /** Wakes every waiter to re-check its condition. */
  notify (): void {
    for (const wake of [...this.#waiters]) wake()
  }

  /** Resolves true once `condition` holds, false at `deadline`; rejects with AbortError when `signal` aborts. */
  async until (condition: () => boolean, deadline: number, signal: AbortSignal): Promise<boolean> {
    while (!condition()) {
      const left = deadline - this.#clock()
      if (left <= 0) return false
      if (signal.aborted) throw new AbortError()
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          this.#waiters.delete(done)
          signal.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, left)
        this.#waiters.add(done)
        signal.addEventListener('abort', done, { once: true })
      })
    }
    return true
  }
}
