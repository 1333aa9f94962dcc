/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`; take(n) succeeds when
 * n tokens are there. The clock is injected, so tests drive it.
 */
export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  readonly #now: () => number
  #tokens: number
  #at: number

  constructor (ratePerSecond: number, burst: number, now: () => number = Date.now) {
    this.#rate = ratePerSecond
    this.#burst = burst
    this.#now = now
    this.#tokens = burst
    this.#at = now()
  }

  take (n = 1): boolean {
    const now = this.#now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#rate / 1000)
    this.#at = now
    if (n > this.#tokens) return false
    this.#tokens -= n
    return true
  }
}
