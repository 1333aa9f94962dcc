import type { Checker, RunContext } from '../context.js'
import type { RecordsChecker } from './records.js'

/**
 * Liveness (rewards), judged at the end from the coordinator's records and the fault ledger:
 * - while at most f members are faulty (the coordinator up, some side of any partition holding
 *   a quorum), no stretch of more than `maxGap` consecutive epochs goes without a record, and each
 *   of those epochs that commits does so within `maxLatencyMs` of its end;
 * - after each heal (liveness promised again), a fresh epoch commits within `resumeWithinMs`.
 */
export interface LivenessOptions {
  maxGap: number
  resumeWithinMs?: number
  maxLatencyMs?: number
}

export class LivenessChecker implements Checker {
  readonly name = 'liveness'
  readonly intervalMs = 60_000
  readonly #records: RecordsChecker
  readonly opts: LivenessOptions
  #expected = 0
  #longestGap = 0
  #resumes: number[] = []
  #maxLatency = 0

  constructor (records: RecordsChecker, opts: LivenessOptions) {
    this.#records = records
    this.opts = opts
  }

  async poll (): Promise<void> {}

  async final (ctx: RunContext): Promise<void> {
    const c = ctx.cluster
    const L = c.epochMs
    // judge the run up to the end of its timeline (the final checks that ran before this one may
    // have taken a while), with the latest records
    const now = ctx.endedAt ?? Date.now()
    await this.#records.poll(ctx).catch(() => {})
    const maxLatency = this.opts.maxLatencyMs ?? 3 * L + 10_000
    // every epoch that has ended is judged, except a tail of epochs still without a record that
    // might yet be decided in time (ended less than maxLatency ago)
    let last = c.epochAt(now) - 1
    while (last > ctx.base && !this.#records.seen.has(last) && c.epochEnd(last) + maxLatency > Date.now()) last--
    let run: number[] = []
    const flush = (): void => {
      if (run.length > this.#longestGap) this.#longestGap = run.length
      if (run.length > this.opts.maxGap) {
        ctx.violation(this.name, `epochs ${run[0]!}–${run.at(-1)!} (${run.length} in a row, more than ${this.opts.maxGap}) have no record although at most f = ${c.f} members were faulty`)
      }
      run = []
    }
    for (let e = ctx.base + 1; e <= last; e++) {
      const expected = ctx.ledger.liveThroughout(c.epochStart(e), c.epochEnd(e) + L)
      if (!expected) {
        flush()
        continue
      }
      this.#expected++
      const record = this.#records.seen.get(e)
      if (record == null) {
        run.push(e)
        continue
      }
      flush()
      this.#maxLatency = Math.max(this.#maxLatency, record.latencyMs)
      if (record.latencyMs > maxLatency) ctx.violation(this.name, `epoch ${e} committed ${record.latencyMs} ms after it ended (bound ${maxLatency} ms)`)
    }
    flush()
    const resumeWithin = this.opts.resumeWithinMs ?? 4 * L + 15_000
    for (const healed of ctx.ledger.heals(now)) {
      const fresh = (): { acceptedAt: number } | undefined => [...this.#records.seen.values()].filter((r) => r.startMs >= healed).sort((a, b) => a.acceptedAt - b.acceptedAt)[0]
      // a heal near the end: give it its full allowance before judging
      while (fresh() == null && Date.now() < healed + resumeWithin) {
        await this.#records.poll(ctx).catch(() => {})
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      const first = fresh()
      if (first == null || first.acceptedAt > healed + resumeWithin) {
        ctx.violation(this.name, `no fresh epoch committed within ${resumeWithin / 1000} s after liveness was restored at +${((healed - ctx.startedAt) / 1000).toFixed(1)} s${first != null ? ` (the first one came after ${((first.acceptedAt - healed) / 1000).toFixed(1)} s)` : ''}`)
      } else {
        this.#resumes.push(first.acceptedAt - healed)
      }
    }
  }

  summary (): string {
    const resumes = this.#resumes.length > 0 ? `, resumed ≤ ${(Math.max(...this.#resumes) / 1000).toFixed(1)} s after ${this.#resumes.length} heal(s)` : ''
    return `gap ≤ ${this.opts.maxGap} (longest ${this.#longestGap} of ${this.#expected} epochs under ≤ f faults, latency ≤ ${(this.#maxLatency / 1000).toFixed(1)} s)${resumes}`
  }
}
