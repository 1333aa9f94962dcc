import type { Checker, RunContext } from '../context.js'

/**
 * VmRSS of every process (from /proc/<pid>/status), sampled while the scenario runs. The bound
 * is per role (MiB); the peak of each process is reported.
 */

export interface RssBounds {
  nodeMiB: number
  coordinatorMiB?: number
}

export class RssChecker implements Checker {
  readonly name = 'rss'
  readonly intervalMs = 500
  readonly bounds: RssBounds
  /** process name → [time, KiB] samples */
  readonly samples = new Map<string, Array<[number, number]>>()

  constructor (bounds: RssBounds) {
    this.bounds = bounds
  }

  async poll (ctx: RunContext): Promise<void> {
    const now = Date.now()
    for (const p of ctx.cluster.all()) {
      if (ctx.byzantine.has(p.name)) continue
      const kib = p.rssKiB()
      if (kib == null) continue
      const list = this.samples.get(p.name) ?? []
      list.push([now, kib])
      this.samples.set(p.name, list)
    }
  }

  peakMiB (name: string, from = 0, to = Infinity): number {
    const list = (this.samples.get(name) ?? []).filter(([t]) => t >= from && t <= to)
    return Math.round(Math.max(0, ...list.map(([, kib]) => kib)) / 1024)
  }

  /** The lowest RSS (MiB) sampled in [from, to] (Infinity if none). */
  lowMiB (name: string, from: number, to: number): number {
    const list = (this.samples.get(name) ?? []).filter(([t]) => t >= from && t <= to)
    return list.length === 0 ? Infinity : Math.round(Math.min(...list.map(([, kib]) => kib)) / 1024)
  }

  /** The last sample's RSS (MiB) at or before `t`. */
  atMiB (name: string, t = Infinity): number | undefined {
    const list = (this.samples.get(name) ?? []).filter(([at]) => at <= t)
    const last = list.at(-1)
    return last == null ? undefined : Math.round(last[1] / 1024)
  }

  boundFor (name: string): number | undefined {
    return name === 'coordinator' ? this.bounds.coordinatorMiB : this.bounds.nodeMiB
  }

  async final (ctx: RunContext): Promise<void> {
    await this.poll(ctx)
    for (const name of this.samples.keys()) {
      const bound = this.boundFor(name)
      const peak = this.peakMiB(name)
      if (bound != null && peak > bound) ctx.violation(this.name, `${name}: RSS peaked at ${peak} MiB, over the bound of ${bound} MiB`)
    }
  }

  summary (): string {
    const nodes = [...this.samples.keys()].filter((n) => n !== 'coordinator')
    const peak = Math.max(0, ...nodes.map((n) => this.peakMiB(n)))
    const coord = this.samples.has('coordinator') ? `, coordinator ${this.peakMiB('coordinator')} MiB` : ''
    return `RSS peak ${peak} MiB (bound ${this.bounds.nodeMiB})${coord}`
  }
}
