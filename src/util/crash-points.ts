import type { Logger } from './logger.js'

/**
 * TEST ONLY: deterministic kill -9 at a named point, for the perturbation suite (test/e2e).
 *
 *   EPHEMERA_TEST_CRASH_AT=<point>@<epoch>[,<point>@<epoch>...]
 *
 * When the process reaches `point` for `epoch` it sends itself SIGKILL: no cleanup runs, exactly
 * as if an operator had killed it at that moment. Node points are the rewards pipeline states
 * (computing, gossiping, broadcasting, submitting, committed: on entering the state, after it was
 * saved); coordinator points are `submission` (a submission for the epoch arrived, before it is
 * checked) and `commit` (its record is durably stored, before the HTTP answer).
 */

export const CRASH_ENV = 'EPHEMERA_TEST_CRASH_AT'

export function parseCrashPoints (value: string | undefined): Set<string> {
  const points = new Set<string>()
  for (const part of (value ?? '').split(',')) {
    const trimmed = part.trim()
    if (/^[a-z-]+@\d+$/.test(trimmed)) points.add(trimmed)
  }
  return points
}

export class CrashPoints {
  readonly #points: Set<string>

  constructor (env: NodeJS.ProcessEnv = process.env, logger?: Logger) {
    this.#points = parseCrashPoints(env[CRASH_ENV])
    if (this.#points.size > 0) logger?.warn({ crashAt: [...this.#points] }, 'TEST FAULT MODE: this process kills itself at the given points')
  }

  /** Kills this process with SIGKILL if (point, epoch) is armed. */
  reached (point: string, epoch: number): void {
    if (this.#points.has(`${point}@${epoch}`)) process.kill(process.pid, 'SIGKILL')
  }
}
