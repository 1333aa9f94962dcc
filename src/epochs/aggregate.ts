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

/** The aggregate of one mixnode's values (sorted ascending, at least one). */
export function aggregateValues (sorted: readonly number[], params: AggregationParams): number {
  const n = sorted.length
  switch (params.method) {
    case 'median': {
      const mid = Math.floor(n / 2)
      return n % 2 === 1 ? sorted[mid] as number : Math.floor(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2)
    }
    case 'mean':
      return Math.floor(sorted.reduce((a, b) => a + b, 0) / n)
    case 'trimmed-mean': {
      const drop = Math.floor((n * params.trimPermille) / 1000)
      const kept = drop * 2 < n ? sorted.slice(drop, n - drop) : sorted
      return Math.floor(kept.reduce((a, b) => a + b, 0) / kept.length)
    }
  }
}

/**
 * Per mixnode: the aggregate of the reports' values (MISSING ignored; fewer than minValues →
 * insufficient), then rewards: reward_i = ⌊pool × perf_i / Σ perf⌋ over sufficient mixnodes,
 * computed in BigInt (remainder units are not distributed).
 */
export function aggregateReports (reports: ReadonlyArray<Uint16Array | readonly number[]>, mixnodes: number, params: AggregationParams): RewardRow[] {
  const rows: RewardRow[] = []
  let total = 0n
  for (let i = 0; i < mixnodes; i++) {
    const values: number[] = []
    for (const r of reports) {
      const v = r[i]
      if (v != null && v !== MISSING) values.push(v)
    }
    values.sort((a, b) => a - b)
    const performance = values.length >= Math.max(1, params.minValues) ? aggregateValues(values, params) : null
    if (performance != null) total += BigInt(performance)
    rows.push({ mixnode: i, performance, values: values.length, reward: '0' })
  }
  if (total > 0n) {
    for (const row of rows) {
      if (row.performance != null) row.reward = ((params.rewardPool * BigInt(row.performance)) / total).toString()
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
