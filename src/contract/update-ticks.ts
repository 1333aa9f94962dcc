/**
 * When the coordinator's update() runs: on a tick, often enough that a lease passes on within a
 * quarter of its timeout, and at every epoch's end, so that the epoch's round is open when its
 * members come (a member that found none would open it itself, with a request more on its way to
 * the commit). Skipped while `paused` (a failed store); a failed update is reported and the next
 * one tries again.
 */
export class UpdateTicks {
  #interval: NodeJS.Timeout | undefined
  #epochEnd: NodeJS.Timeout | undefined

  start (p: { tickMs: number, clock: () => number, nextEpochEnd: (now: number) => number, update: () => Promise<void>, onError: (err: unknown) => void, paused?: () => boolean }): void {
    if (this.#interval != null) return
    const tick = (): void => {
      if (p.paused?.() === true) return
      p.update().catch(p.onError)
    }
    this.#interval = setInterval(tick, p.tickMs)
    this.#interval.unref()
    const atEpochEnd = (): void => {
      const now = p.clock()
      this.#epochEnd = setTimeout(() => {
        tick()
        atEpochEnd()
      }, p.nextEpochEnd(now) - now + 1)
      this.#epochEnd.unref()
    }
    atEpochEnd()
  }

  stop (): void {
    clearInterval(this.#interval)
    clearTimeout(this.#epochEnd)
    this.#interval = undefined
    this.#epochEnd = undefined
  }
}
