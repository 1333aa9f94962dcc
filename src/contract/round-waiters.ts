/**
 * Requests waiting for an epoch's round to change (GET …/round?since=V, a long poll). Bounded:
 * past `max` waiting at once, a request is answered at once (it then simply polls).
 */
export class RoundWaiters {
  readonly #max: number
  readonly #byEpoch = new Map<number, Set<() => void>>()
  #count = 0

  constructor (max = 1024) {
    this.#max = max
  }

  get size (): number {
    return this.#count
  }

  /**
   * Resolves on wake(epoch), after `timeoutMs`, or on abort, with true; at once with false when
   * there is no time left, it was aborted already, or too many wait already.
   */
  async wait (epoch: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (timeoutMs <= 0 || this.#count >= this.#max || signal?.aborted === true) return false
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        const set = this.#byEpoch.get(epoch)
        if (set?.delete(done) === true) {
          this.#count--
          if (set.size === 0) this.#byEpoch.delete(epoch)
        }
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      signal?.addEventListener('abort', done, { once: true })
      const set = this.#byEpoch.get(epoch) ?? new Set<() => void>()
      set.add(done)
      this.#byEpoch.set(epoch, set)
      this.#count++
    })
    return true
  }

  /** Wakes every request waiting for `epoch`. */
  wake (epoch: number): void {
    for (const done of [...(this.#byEpoch.get(epoch) ?? [])]) done()
  }
}
