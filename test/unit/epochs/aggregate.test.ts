import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { aggregateReports, aggregateValues, diffRewardTables, type AggregationMethod, type AggregationParams, type RewardRow } from '../../../src/epochs/aggregate.js'
import { MISSING } from '../../../src/epochs/report.js'

const params = (method: AggregationMethod, patch: Partial<AggregationParams> = {}): AggregationParams =>
  ({ method, trimPermille: 200, minValues: 1, rewardPool: 1_000_000n, ...patch })

/** Independent reference: aggregate of the non-MISSING values, or null when fewer than minValues. */
function reference (values: readonly number[], p: AggregationParams): number | null {
  const s = values.filter((v) => v !== MISSING).sort((a, b) => a - b)
  const n = s.length
  if (n < Math.max(1, p.minValues)) return null
  const mean = (xs: number[]): number => Number(xs.reduce((a, b) => a + BigInt(b), 0n) / BigInt(xs.length))
  if (p.method === 'median') return n % 2 === 1 ? s[(n - 1) / 2] as number : Number((BigInt(s[n / 2 - 1] as number) + BigInt(s[n / 2] as number)) / 2n)
  if (p.method === 'mean') return mean(s)
  let d = Math.floor((n * p.trimPermille) / 1000)
  if (2 * d >= n) d = 0
  return mean(s.slice(d, n - d))
}

/** Independent reference reward table. */
function referenceTable (reports: number[][], mixnodes: number, p: AggregationParams): RewardRow[] {
  const rows = Array.from({ length: mixnodes }, (_, i) => {
    const column = reports.map((r) => r[i]).filter((v): v is number => v != null)
    const performance = reference(column, p)
    return { mixnode: i, performance, values: column.filter((v) => v !== MISSING).length, reward: '0' }
  })
  const total = rows.reduce((a, r) => a + BigInt(r.performance ?? 0), 0n)
  if (total > 0n) for (const r of rows) if (r.performance != null) r.reward = String(p.rewardPool * BigInt(r.performance) / total)
  return rows
}

const value = fc.oneof({ weight: 1, arbitrary: fc.constant(MISSING) }, { weight: 6, arbitrary: fc.integer({ min: 0, max: 10_000 }) })

describe('aggregateValues', () => {
  it.each([
    [[7], 7],
    [[1, 5, 9], 5],
    [[0, 3, 10_000], 3],
    [[1, 2, 3, 4, 100], 3]
  ])('median of an odd count %j is the middle value %d', (values, expected) => {
    expect(aggregateValues(values, params('median'))).toBe(expected)
  })

  it.each([
    [[1, 2], 1],
    [[1, 2, 4, 7], 3],
    [[1, 2, 3, 4], 2],
    [[0, 10_000], 5000],
    [[9999, 10_000], 9999],
    [[5, 5, 5, 6], 5]
  ])('median of an even count %j is the floor of the mean of the two middle values: %d', (values, expected) => {
    expect(aggregateValues(values, params('median'))).toBe(expected)
  })

  it.each([
    [[1, 2, 4], 2],
    [[10_000, 10_000, 9999], 9999],
    [[0], 0],
    [[3, 4], 3]
  ])('mean of %j is floored: %d', (values, expected) => {
    expect(aggregateValues(values, params('mean'))).toBe(expected)
  })

  it('trimmed-mean drops ⌊n·permille/1000⌋ values at each end', () => {
    // n = 10, 20 % → drop 2 each end: keeps 2..7 → 27 / 6 = 4.5 → 4
    expect(aggregateValues([0, 1, 2, 3, 4, 5, 6, 7, 8, 100], params('trimmed-mean', { trimPermille: 200 }))).toBe(4)
    // n = 5, 20 % → drop 1 each end: keeps 5, 6, 7 → 6 (the outliers do not count)
    expect(aggregateValues([0, 5, 6, 7, 10_000], params('trimmed-mean', { trimPermille: 200 }))).toBe(6)
    // n = 4, 20 % → ⌊0.8⌋ = 0 dropped: plain mean (0 + 5 + 6 + 10000) / 4 = 2502.75 → 2502
    expect(aggregateValues([0, 5, 6, 10_000], params('trimmed-mean', { trimPermille: 200 }))).toBe(2502)
    // n = 9, 250 ‰ → drop 2 each end
    expect(aggregateValues([0, 0, 10, 20, 30, 40, 50, 10_000, 10_000], params('trimmed-mean', { trimPermille: 250 }))).toBe(30)
    // 0 ‰ is the plain mean
    expect(aggregateValues([1, 2, 4], params('trimmed-mean', { trimPermille: 0 }))).toBe(2)
  })

  it('trimmed-mean does not trim when trimming would drop everything', () => {
    // n = 2, 500 ‰ → drop 1 each end = both values: falls back to the mean of all
    expect(aggregateValues([10, 21], params('trimmed-mean', { trimPermille: 500 }))).toBe(15)
    // n = 4, 500 ‰ → drop 2 each end = all four
    expect(aggregateValues([0, 4, 8, 100], params('trimmed-mean', { trimPermille: 500 }))).toBe(28)
    // n = 3, 999 ‰ → drop 2 each end (more than everything)
    expect(aggregateValues([1, 2, 9], params('trimmed-mean', { trimPermille: 999 }))).toBe(4)
    // n = 5, 400 ‰ → drop 2 each end, keeps exactly the middle one
    expect(aggregateValues([0, 1, 7, 9, 10_000], params('trimmed-mean', { trimPermille: 400 }))).toBe(7)
  })

  it('agrees with an independent reference for every method (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 40 }),
      fc.constantFrom<AggregationMethod>('median', 'mean', 'trimmed-mean'),
      fc.integer({ min: 0, max: 1000 }),
      (values, method, trimPermille) => {
        const p = params(method, { trimPermille })
        const sorted = [...values].sort((a, b) => a - b)
        const result = aggregateValues(sorted, p)
        expect(result).toBe(reference(values, p))
        expect(Number.isInteger(result)).toBe(true)
        expect(result).toBeGreaterThanOrEqual(sorted[0] as number)
        expect(result).toBeLessThanOrEqual(sorted[sorted.length - 1] as number)
      }
    ), { numRuns: 300 })
  })
})

describe('aggregateReports', () => {
  it('ignores MISSING values and counts only real ones', () => {
    const rows = aggregateReports([
      [MISSING, 10, 300],
      [5000, 20, MISSING],
      [6000, MISSING, MISSING]
    ], 3, params('median', { minValues: 1 }))
    expect(rows.map((r) => r.performance)).toEqual([5500, 15, 300])
    expect(rows.map((r) => r.values)).toEqual([2, 2, 1])
    expect(rows.map((r) => r.mixnode)).toEqual([0, 1, 2])
  })

  it('gives performance null and reward "0" to mixnodes with fewer than minValues values', () => {
    const rows = aggregateReports([
      [MISSING, 4000, 8000],
      [MISSING, MISSING, 8000],
      [1000, MISSING, 8000]
    ], 3, params('median', { minValues: 2, rewardPool: 100n }))
    expect(rows[0]).toEqual({ mixnode: 0, performance: null, values: 1, reward: '0' })
    expect(rows[1]).toEqual({ mixnode: 1, performance: null, values: 1, reward: '0' })
    // the only sufficient mixnode gets the whole pool
    expect(rows[2]).toEqual({ mixnode: 2, performance: 8000, values: 3, reward: '100' })
  })

  it('treats reports shorter than the mixnode count as MISSING for the rest', () => {
    const rows = aggregateReports([Uint16Array.from([100]), [300, 50]], 3, params('mean', { minValues: 1, rewardPool: 90n }))
    expect(rows.map((r) => [r.performance, r.values])).toEqual([[200, 2], [50, 1], [null, 0]])
    expect(rows.map((r) => r.reward)).toEqual(['72', '18', '0'])
  })

  it('accepts Uint16Array reports and plain arrays alike', () => {
    const a = aggregateReports([Uint16Array.from([1, 2, MISSING]), Uint16Array.from([3, 4, 5])], 3, params('mean'))
    const b = aggregateReports([[1, 2, MISSING], [3, 4, 5]], 3, params('mean'))
    expect(a).toEqual(b)
  })

  it('splits the pool as ⌊pool·perf_i/Σperf⌋, remainders undistributed', () => {
    const rows = aggregateReports([[1, 1, 1]], 3, params('median', { rewardPool: 100n }))
    expect(rows.map((r) => r.reward)).toEqual(['33', '33', '33'])
    const rows2 = aggregateReports([[2500, 5000, 10_000, 0]], 4, params('median', { rewardPool: 7n }))
    // Σ = 17500: 7·2500/17500 = 1, 7·5000/17500 = 2, 7·10000/17500 = 4, 0
    expect(rows2.map((r) => r.reward)).toEqual(['1', '2', '4', '0'])
  })

  it('computes rewards in BigInt for a pool above 2^53', () => {
    const pool = 2n ** 64n + 12_345n
    const reports = [[9999, 1, 5000, MISSING], [9998, 3, 5001, 7777], [10_000, 2, 4999, MISSING]]
    const p = params('median', { rewardPool: pool, minValues: 2 })
    const rows = aggregateReports(reports, 4, p)
    expect(rows).toEqual(referenceTable(reports, 4, p))
    // 9999·pool/Σ has more than 53 significant bits: a float computation would differ
    const total = 9999n + 2n + 5000n
    expect(rows[0]?.reward).toBe(String(pool * 9999n / total))
    expect(BigInt(rows[0]?.reward ?? '0')).toBeGreaterThan(2n ** 53n)
    expect(rows[3]).toEqual({ mixnode: 3, performance: null, values: 1, reward: '0' })
    const sum = rows.reduce((a, r) => a + BigInt(r.reward), 0n)
    expect(sum).toBeLessThanOrEqual(pool)
    expect(pool - sum).toBeLessThan(3n)
  })

  it('gives every mixnode "0" when all performances are zero', () => {
    const rows = aggregateReports([[0, 0, MISSING], [0, 0, 0]], 3, params('median', { minValues: 1 }))
    expect(rows).toEqual([
      { mixnode: 0, performance: 0, values: 2, reward: '0' },
      { mixnode: 1, performance: 0, values: 2, reward: '0' },
      { mixnode: 2, performance: 0, values: 1, reward: '0' }
    ])
  })

  it('gives every mixnode "0" when none has enough values, and handles no reports', () => {
    expect(aggregateReports([], 2, params('median')).map((r) => [r.performance, r.values, r.reward])).toEqual([[null, 0, '0'], [null, 0, '0']])
    expect(aggregateReports([[MISSING, MISSING]], 2, params('mean', { minValues: 0 })).map((r) => r.performance)).toEqual([null, null])
    expect(aggregateReports([[1, 2]], 0, params('mean'))).toEqual([])
  })

  it('matches an independent BigInt computation; Σ rewards ≤ pool and loses < one unit per rewarded mixnode (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 12 }).chain((mixnodes) => fc.tuple(
        fc.constant(mixnodes),
        fc.array(fc.array(value, { minLength: mixnodes, maxLength: mixnodes }), { minLength: 0, maxLength: 9 })
      )),
      fc.constantFrom<AggregationMethod>('median', 'mean', 'trimmed-mean'),
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 5 }),
      fc.bigInt({ min: 0n, max: 2n ** 80n }),
      ([mixnodes, reports], method, trimPermille, minValues, rewardPool) => {
        const p = { method, trimPermille, minValues, rewardPool }
        const rows = aggregateReports(reports, mixnodes, p)
        expect(rows).toEqual(referenceTable(reports, mixnodes, p))
        const sum = rows.reduce((a, r) => a + BigInt(r.reward), 0n)
        expect(sum).toBeLessThanOrEqual(rewardPool)
        const rewarded = rows.filter((r) => r.performance != null && r.performance > 0).length
        if (rewarded > 0) expect(rewardPool - sum).toBeLessThan(BigInt(rewarded))
        else expect(sum).toBe(0n)
        for (const r of rows) {
          expect(r.reward).toMatch(/^\d+$/)
          if (r.performance == null) expect(r.reward).toBe('0')
        }
      }
    ), { numRuns: 300 })
  })

  it('does not depend on the order of the reports (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.array(value, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 8 }).chain((reports) =>
        fc.tuple(fc.constant(reports), fc.shuffledSubarray(reports, { minLength: reports.length, maxLength: reports.length }))),
      fc.constantFrom<AggregationMethod>('median', 'mean', 'trimmed-mean'),
      fc.integer({ min: 1, max: 3 }),
      ([reports, shuffled], method, minValues) => {
        const p = params(method, { minValues, trimPermille: 250, rewardPool: 10n ** 20n + 7n })
        expect(aggregateReports(shuffled, 6, p)).toEqual(aggregateReports(reports, 6, p))
      }
    ), { numRuns: 200 })
  })
})

describe('Byzantine resilience (property)', () => {
  /** h honest values near each other, f adversarial values anywhere, h ≥ f + 1, in a random order. */
  const scenario = fc.integer({ min: 0, max: 10 }).chain((f) => fc.record({
    f: fc.constant(f),
    honest: fc.integer({ min: 0, max: 10_000 }).chain((centre) =>
      fc.array(fc.integer({ min: Math.max(0, centre - 300), max: Math.min(10_000, centre + 300) }), { minLength: f + 1, maxLength: f + 8 })),
    adversarial: fc.array(fc.oneof(fc.constantFrom(0, 10_000), fc.integer({ min: 0, max: 10_000 })), { minLength: f, maxLength: f }),
    seed: fc.integer()
  }))

  function mixed (honest: number[], adversarial: number[], seed: number): number[][] {
    // one report per value, one mixnode, in a seed-dependent order
    const all = [...honest, ...adversarial].map((v, i) => ({ v, k: (Math.imul(i + 1, 0x9e3779b1) ^ seed) >>> 0 }))
    return all.sort((a, b) => a.k - b.k).map(({ v }) => [v])
  }

  it('the median lies within [min honest, max honest]', () => {
    fc.assert(fc.property(scenario, ({ honest, adversarial, seed }) => {
      const rows = aggregateReports(mixed(honest, adversarial, seed), 1, params('median', { minValues: 1 }))
      const perf = rows[0]?.performance as number
      expect(perf).toBeGreaterThanOrEqual(Math.min(...honest))
      expect(perf).toBeLessThanOrEqual(Math.max(...honest))
    }), { numRuns: 500 })
  })

  it('the trimmed mean lies within [min honest, max honest] when at least f values are dropped at each end', () => {
    fc.assert(fc.property(scenario, fc.integer({ min: 0, max: 1_000_000 }), ({ f, honest, adversarial, seed }, pick) => {
      const n = honest.length + adversarial.length
      // any drop d with f ≤ d and 2d < n; trimPermille = ⌈1000·d/n⌉ gives ⌊n·p/1000⌋ = d for n < 1000
      const maxDrop = Math.floor((n - 1) / 2)
      const d = f + (pick % (maxDrop - f + 1))
      const trimPermille = Math.ceil((1000 * d) / n)
      expect(Math.floor((n * trimPermille) / 1000)).toBe(d)
      expect(d).toBeGreaterThanOrEqual(f)
      const rows = aggregateReports(mixed(honest, adversarial, seed), 1, params('trimmed-mean', { minValues: 1, trimPermille }))
      const perf = rows[0]?.performance as number
      expect(perf).toBeGreaterThanOrEqual(Math.min(...honest))
      expect(perf).toBeLessThanOrEqual(Math.max(...honest))
    }), { numRuns: 500 })
  })

  it('the plain mean is not resilient (sanity check that the property can fail)', () => {
    const rows = aggregateReports([[5000], [5000], [10_000]], 1, params('mean'))
    expect(rows[0]?.performance).toBe(6666)
    expect(rows[0]?.performance).toBeGreaterThan(5000)
  })
})

describe('diffRewardTables', () => {
  const table = aggregateReports([[100, 200, MISSING], [300, 400, 500]], 3, params('median', { minValues: 2 }))
  const copy = (): RewardRow[] => table.map((r) => ({ ...r }))

  it('is undefined for equal tables', () => {
    expect(diffRewardTables(table, copy())).toBeUndefined()
  })

  it('names the first differing index and field, with both values', () => {
    const reward = copy()
    reward[1] = { ...(reward[1] as RewardRow), reward: '1' }
    expect(diffRewardTables(table, reward)).toBe(`rewards[1].reward is "1", the reports give "${table[1]?.reward ?? ''}"`)

    const performance = copy()
    performance[0] = { ...(performance[0] as RewardRow), performance: 201 }
    expect(diffRewardTables(table, performance)).toBe('rewards[0].performance is 201, the reports give 200')

    const nulled = copy()
    nulled[2] = { ...(nulled[2] as RewardRow), performance: 500, reward: '5' }
    expect(diffRewardTables(table, nulled)).toBe('rewards[2].performance is 500, the reports give null')

    const values = copy()
    values[2] = { ...(values[2] as RewardRow), values: 2 }
    expect(diffRewardTables(table, values)).toMatch(/^rewards\[2\]\.values is 2/)

    const mixnode = copy()
    mixnode[1] = { ...(mixnode[1] as RewardRow), mixnode: 7 }
    expect(diffRewardTables(table, mixnode)).toMatch(/^rewards\[1\]\.mixnode is 7/)
  })

  it('reports the earliest difference when several rows differ, performance before reward', () => {
    const both = copy()
    both[1] = { ...(both[1] as RewardRow), performance: 1, reward: '2' }
    both[2] = { ...(both[2] as RewardRow), values: 9 }
    expect(diffRewardTables(table, both)).toMatch(/^rewards\[1\]\.performance/)
  })

  it('checks the fields of a row in declaration order: mixnode, performance, values, reward', () => {
    const row = table[0] as RewardRow
    const all = copy()
    all[0] = { mixnode: 9, performance: 1, values: 9, reward: '9' }
    expect(diffRewardTables(table, all)).toMatch(/^rewards\[0\]\.mixnode/)
    all[0] = { ...row, performance: 1, values: 9, reward: '9' }
    expect(diffRewardTables(table, all)).toMatch(/^rewards\[0\]\.performance/)
    all[0] = { ...row, values: 9, reward: '9' }
    expect(diffRewardTables(table, all)).toMatch(/^rewards\[0\]\.values/)
    all[0] = { ...row, reward: '9' }
    expect(diffRewardTables(table, all)).toMatch(/^rewards\[0\]\.reward/)
  })

  it('names a row-count mismatch', () => {
    expect(diffRewardTables(table, copy().slice(0, 2))).toBe('the table has 2 rows, the reports give 3')
    expect(diffRewardTables(table, [...copy(), { mixnode: 3, performance: null, values: 0, reward: '0' }])).toBe('the table has 4 rows, the reports give 3')
  })

  it('treats a reward with the same digits but a different type as different', () => {
    const numeric = copy() as unknown as Array<Record<string, unknown>>
    numeric[0] = { ...numeric[0], reward: Number(table[0]?.reward) }
    expect(diffRewardTables(table, numeric as unknown as RewardRow[])).toMatch(/^rewards\[0\]\.reward/)
  })
})
