import { MISSING } from './report.js'

/**
 * Aggregation of an epoch's reports into the reward table (docs/PROTOCOL.md §7.3). Pure and
 * integer-only, so every node, the coordinator and any verifier get the same table.
 */

export type AggregationMethod = 'median' | 'mean' | 'trimmed-mean'

export interface AggregationParams {
  method: AggregationMethod
  /** trimmed-mean only: the fraction of values dropped at each end, in thousandths (e.g. 200 = 20 %). */
  trimPermille: number
  /** A mixnode with fewer values than this is marked insufficient and gets no reward. */
  minValues: number
  /** Reward units distributed per epoch. */
  rewardPool: bigint
}

export interface RewardRow {
  mixnode: number
  /** Aggregated uptime in hundredths of a percent, or null when insufficient. */
  performance: number | null
  /** How many reports had a value for this mixnode. */
  values: number
  /** Reward units (decimal string: may exceed 2^53). */
  reward: string
}

/** The aggregate of one mixnode's values: the first `n` of `sorted` (ascending, at least one). */
export function aggregateValues (sorted: ArrayLike<number>, params: AggregationParams, n = sorted.length): number {
  switch (params.method) {
    case 'median': {
      const mid = Math.floor(n / 2)
      return n % 2 === 1 ? sorted[mid] as number : Math.floor(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2)
    }
    case 'mean':
      return Math.floor(sum(sorted, 0, n) / n)
    case 'trimmed-mean': {
      const drop = Math.floor((n * params.trimPermille) / 1000)
      return drop * 2 < n ? Math.floor(sum(sorted, drop, n - drop) / (n - 2 * drop)) : Math.floor(sum(sorted, 0, n) / n)
    }
  }
}

function sum (values: ArrayLike<number>, from: number, to: number): number {
  let total = 0
  for (let i = from; i < to; i++) total += values[i] as number
  return total
}

/**
 * Per mixnode: the aggregate of the reports' values (MISSING ignored; fewer than minValues →
 * insufficient), then rewards: reward_i = ⌊pool × perf_i / Σ perf⌋ over sufficient mixnodes,
 * computed in BigInt (remainder units are not distributed).
 */
export function aggregateReports (reports: ReadonlyArray<Uint16Array | readonly number[]>, mixnodes: number, params: AggregationParams): RewardRow[] {
  const rows: RewardRow[] = []
  // one mixnode's values, sorted by insertion in place: no array per mixnode (a report holds at most one value per mixnode)
  const values = new Float64Array(reports.length)
  // Σ perf as a Number: at most 2^32 mixnodes × 0xFFFF stays below 2^53
  let total = 0
  for (let i = 0; i < mixnodes; i++) {
    let n = 0
    for (const r of reports) {
      const v = r[i]
      if (v == null || v === MISSING) continue
      let at = n++
      while (at > 0 && (values[at - 1] as number) > v) {
        values[at] = values[at - 1] as number
        at--
      }
      values[at] = v
    }
    const performance = n >= Math.max(1, params.minValues) ? aggregateValues(values, params, n) : null
    if (performance != null) total += performance
    rows.push({ mixnode: i, performance, values: n, reward: '0' })
  }
  if (total > 0) {
    const denominator = BigInt(total)
    for (const row of rows) {
      if (row.performance != null) row.reward = ((params.rewardPool * BigInt(row.performance)) / denominator).toString()
    }
  }
  return rows
}

/** First difference between two reward tables, as one line; undefined when equal. */
export function diffRewardTables (expected: readonly RewardRow[], actual: readonly RewardRow[]): string | undefined {
  if (expected.length !== actual.length) return `the table has ${actual.length} rows, the reports give ${expected.length}`
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as RewardRow
    const a = actual[i] as RewardRow
    for (const field of ['mixnode', 'performance', 'values', 'reward'] as const) {
      if (e[field] !== a[field]) return `rewards[${i}].${field} is ${JSON.stringify(a[field])}, the reports give ${JSON.stringify(e[field])}`
    }
  }
  return undefined
}
