import type { Checker, RunContext } from './context.js'
import { delay } from './wait.js'

/**
 * Runs the continuous checkers while the scenario runs: each one in its own loop at its own
 * interval, so a slow one (many blocks to fetch) does not delay the others. Errors inside a poll
 * (a process just died, a timeout) are not violations; checkers decide what a violation is.
 */
export class Monitor {
  readonly checkers: Checker[] = []
  readonly #controller = new AbortController()
  #loops: Array<Promise<void>> = []
  readonly pollErrors = new Map<string, { count: number, last: string }>()

  add (...checkers: Checker[]): this {
    this.checkers.push(...checkers)
    return this
  }

  start (ctx: RunContext): void {
    const signal = this.#controller.signal
    this.#loops = this.checkers.map(async (checker) => {
      while (!signal.aborted) {
        try {
          await checker.poll(ctx)
        } catch (err) {
          this.pollErrors.set(checker.name, { count: (this.pollErrors.get(checker.name)?.count ?? 0) + 1, last: (err as Error).message })
        }
        await delay(checker.intervalMs, signal)
      }
    })
  }

  async stop (): Promise<void> {
    this.#controller.abort()
    await Promise.allSettled(this.#loops)
  }

  /** Stops the loops, then runs every checker's final check. */
  async finish (ctx: RunContext): Promise<void> {
    await this.stop()
    for (const checker of this.checkers) {
      try {
        await checker.final?.(ctx)
      } catch (err) {
        ctx.violation(checker.name, `final check could not run: ${(err as Error).message}`)
      }
    }
  }
}
