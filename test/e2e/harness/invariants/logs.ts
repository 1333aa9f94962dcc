import type { Checker, RunContext } from '../context.js'
import { parseLog, type LogLine } from '../proc.js'

/**
 * Logging stays sane under repeated faults: an honest node logs at most `perMinute` lines at warn
 * level or above in any 60-second window (a repeated fault is logged once per interval with a
 * count, not once per frame). Lines the harness caused on purpose (TEST FAULT MODE banners) count
 * like any other.
 */
export class LogRateChecker implements Checker {
  readonly name = 'log-rate'
  readonly intervalMs = 60_000
  readonly perMinute: number
  readonly #peaks = new Map<string, { count: number, top: string }>()
  /** Only lines at or after this time (ms) count; set by the scenario (e.g. when a flood starts). */
  from = 0

  constructor (perMinute: number) {
    this.perMinute = perMinute
  }

  async poll (): Promise<void> {}

  async final (ctx: RunContext): Promise<void> {
    for (const name of ctx.cluster.names) {
      if (ctx.byzantine.has(name)) continue
      const lines = parseLog(ctx.cluster.node(name).log()).filter((l) => l.level >= 40 && l.time >= this.from)
      const peak = peakPerWindow(lines, 60_000)
      this.#peaks.set(name, peak)
      if (peak.count > this.perMinute) ctx.violation(this.name, `${name} logged ${peak.count} warn/error lines within one minute (bound ${this.perMinute}); most frequent: ${peak.top}`)
    }
  }

  summary (): string {
    const worst = Math.max(0, ...[...this.#peaks.values()].map((p) => p.count))
    return `≤ ${worst} warn lines/min (bound ${this.perMinute})`
  }
}

/** The most lines in any window of `windowMs`, and the most frequent message in that window. */
export function peakPerWindow (lines: LogLine[], windowMs: number): { count: number, top: string } {
  const sorted = [...lines].sort((a, b) => a.time - b.time)
  let best = { count: 0, start: 0, end: 0 }
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[i]!.time - sorted[j]!.time >= windowMs) j++
    if (i - j + 1 > best.count) best = { count: i - j + 1, start: j, end: i + 1 }
  }
  const counts = new Map<string, number>()
  for (const l of sorted.slice(best.start, best.end)) counts.set(l.msg, (counts.get(l.msg) ?? 0) + 1)
  const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([m, n]) => `"${m}" ×${n}`).join(', ')
  return { count: best.count, top }
}
