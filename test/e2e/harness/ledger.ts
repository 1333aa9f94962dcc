/**
 * When each fault was active. Liveness is only promised while at most f members are faulty, the
 * coordinator is up and some side of a partition holds a quorum; the ledger answers "was that so
 * over this time window?" and "when did it become so again?" (the heals).
 */

export type FaultKind = 'down' | 'paused' | 'partitioned' | 'byzantine' | 'disk-full' | 'no-quorum'

export interface FaultInterval {
  who: string
  kind: FaultKind
  from: number
  to?: number
  note: string
}

export const COORDINATOR = 'coordinator'
export const NETWORK = 'network'

export class FaultLedger {
  readonly intervals: FaultInterval[] = []
  readonly events: Array<{ t: number, text: string }> = []
  readonly #f: number

  constructor (f: number) {
    this.#f = f
  }

  log (text: string, t = Date.now()): void {
    this.events.push({ t, text })
  }

  begin (who: string, kind: FaultKind, note: string, t = Date.now()): void {
    if (this.intervals.some((i) => i.who === who && i.kind === kind && i.to == null)) return
    this.intervals.push({ who, kind, from: t, note })
    this.log(`${who}: ${kind} (${note})`, t)
  }

  /** Ends `who`'s open faults (of `kind`, or all of them). */
  end (who: string, kind?: FaultKind, t = Date.now()): void {
    for (const i of this.intervals) {
      if (i.who === who && i.to == null && (kind == null || i.kind === kind)) {
        i.to = t
        this.log(`${who}: ${i.kind} over after ${((t - i.from) / 1000).toFixed(1)} s`, t)
      }
    }
  }

  isFaulty (who: string, t = Date.now()): boolean {
    return this.intervals.some((i) => i.who === who && i.from <= t && (i.to == null || t < i.to))
  }

  /** Members (not the coordinator, not the network) faulty at t. */
  faultyMembersAt (t: number): Set<string> {
    return new Set(this.intervals.filter((i) => i.who !== COORDINATOR && i.who !== NETWORK && i.from <= t && (i.to == null || t < i.to)).map((i) => i.who))
  }

  /** Whether liveness is promised at t. */
  liveAt (t: number): boolean {
    const active = this.intervals.filter((i) => i.from <= t && (i.to == null || t < i.to))
    if (active.some((i) => i.who === COORDINATOR || i.who === NETWORK)) return false
    return this.faultyMembersAt(t).size <= this.#f
  }

  /** Whether liveness is promised over all of [from, to]. */
  liveThroughout (from: number, to: number): boolean {
    const points = [from, ...this.intervals.flatMap((i) => [i.from, i.to ?? Infinity]).filter((t) => t > from && t <= to)]
    return points.every((t) => this.liveAt(t))
  }

  /** Times at which liveness became promised again after a stretch without it. */
  heals (until = Date.now()): number[] {
    const points = [...new Set(this.intervals.flatMap((i) => [i.from, i.to ?? Infinity]).filter((t) => t <= until))].sort((a, b) => a - b)
    const out: number[] = []
    let live = true
    for (const t of points) {
      const now = this.liveAt(t)
      if (now && !live) out.push(t)
      live = now
    }
    return out
  }

  /** Last time `who` stopped being faulty (undefined if never faulty or still faulty). */
  lastReturn (who: string): number | undefined {
    const mine = this.intervals.filter((i) => i.who === who)
    if (mine.length === 0 || mine.some((i) => i.to == null)) return undefined
    return Math.max(...mine.map((i) => i.to as number))
  }

  /** Whether `who` was faulty at any time in [from, to]. */
  faultyDuring (who: string, from: number, to: number): boolean {
    return this.intervals.some((i) => i.who === who && i.from <= to && (i.to == null || i.to > from))
  }

  /** Milliseconds within [from, to] during which `who` was faulty (overlaps counted once). */
  downtime (who: string, from: number, to: number): number {
    const spans = this.intervals.filter((i) => i.who === who).map((i) => [Math.max(from, i.from), Math.min(to, i.to ?? to)] as const).filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0])
    let total = 0
    let end = from
    for (const [a, b] of spans) {
      if (b <= end) continue
      total += b - Math.max(a, end)
      end = b
    }
    return total
  }

  /** A compact list of the faults, for the result table. */
  describe (): string {
    return this.intervals.map((i) => `${i.kind} ${i.who}`).join(', ')
  }
}
