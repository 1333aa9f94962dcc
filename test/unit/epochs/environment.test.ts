import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { ENVIRONMENTS, environmentProblems, environmentWithEpoch, epochAt, epochWindow, type EnvironmentName } from '../../../src/epochs/environment.js'

describe('environment presets', () => {
  it.each([
    ['testing', 2_000, 200, 25],
    ['development', 10_000, 1_000, 50],
    ['production', 3_600_000, 60_000, 1_000]
  ] as const)('%s: %d ms epochs, sampling every %d ms, chunks of %d mixnodes, timeouts derived from the epoch', (name, epochMs, sampleIntervalMs, chunkSize) => {
    expect(ENVIRONMENTS[name]).toEqual({
      name,
      epochMs,
      sampleIntervalMs,
      reportDeadlineMs: epochMs / 2,
      proposerStaggerMs: epochMs / 10,
      epochDeadlineMs: epochMs * 3,
      submitStaggerMs: epochMs / 20,
      requestSkewMs: Math.max(30_000, epochMs),
      chunkSize,
      leaseTimeoutMs: epochMs,
      attemptTimeoutMs: epochMs * 3,
      verifiersPerChunk: 2,
      finalizationEpochs: 10
    })
  })

  it('every preset is usable by a committee of 4 and the default 100 mixnodes; a bad one is refused with the reasons', () => {
    for (const env of Object.values(ENVIRONMENTS)) expect(environmentProblems(env, 4, 100)).toEqual([])
    expect(environmentProblems({ ...ENVIRONMENTS.testing, chunkSize: 0, leaseTimeoutMs: 5_000, verifiersPerChunk: 0, finalizationEpochs: 1 }, 1, 100)).toEqual([
      'chunk size must be a positive integer, got 0',
      'an attempt (6000 ms) must fit at least two leases of 5000 ms, so that a dead holder\'s chunk can pass on',
      'the finalization window (1 epochs) is shorter than one attempt (6000 ms)',
      'each chunk needs at least one verifier'
    ])
    // a committee of one (the standalone baseline) is usable: nobody else verifies its chunks
    expect(environmentProblems(ENVIRONMENTS.testing, 1, 100)).toEqual([])
    expect(environmentProblems({ ...ENVIRONMENTS.testing, chunkSize: 1 }, 4, 30_000)).toEqual(['30000 mixnodes in chunks of 1 make more than 1024 chunks; use larger chunks'])
  })

  it('keeps the request skew at least 30 s, and at least one epoch', () => {
    expect(ENVIRONMENTS.testing.requestSkewMs).toBe(30_000)
    expect(ENVIRONMENTS.development.requestSkewMs).toBe(30_000)
    expect(ENVIRONMENTS.production.requestSkewMs).toBe(3_600_000)
  })

  it('orders the deadlines sensibly in every preset', () => {
    for (const env of Object.values(ENVIRONMENTS)) {
      expect(env.sampleIntervalMs).toBeLessThan(env.epochMs)
      expect(env.submitStaggerMs).toBeLessThan(env.proposerStaggerMs)
      expect(env.proposerStaggerMs).toBeLessThan(env.reportDeadlineMs)
      expect(env.reportDeadlineMs).toBeLessThan(env.epochDeadlineMs)
    }
  })
})

describe('environmentWithEpoch', () => {
  it('returns the preset itself without an epoch or with the preset epoch', () => {
    expect(environmentWithEpoch('testing')).toBe(ENVIRONMENTS.testing)
    expect(environmentWithEpoch('development', 10_000)).toBe(ENVIRONMENTS.development)
    expect(environmentWithEpoch('production', undefined)).toBe(ENVIRONMENTS.production)
  })

  it('scales every timeout with a different epoch length, keeping the name', () => {
    expect(environmentWithEpoch('testing', 4_000)).toEqual({
      name: 'testing',
      epochMs: 4_000,
      sampleIntervalMs: 400,
      reportDeadlineMs: 2_000,
      proposerStaggerMs: 400,
      epochDeadlineMs: 12_000,
      submitStaggerMs: 200,
      requestSkewMs: 30_000,
      chunkSize: 25,
      leaseTimeoutMs: 4_000,
      attemptTimeoutMs: 12_000,
      verifiersPerChunk: 2,
      finalizationEpochs: 10
    })
    expect(environmentWithEpoch('production', 7_200_000)).toEqual({
      name: 'production',
      epochMs: 7_200_000,
      sampleIntervalMs: 120_000,
      reportDeadlineMs: 3_600_000,
      proposerStaggerMs: 720_000,
      epochDeadlineMs: 21_600_000,
      submitStaggerMs: 360_000,
      requestSkewMs: 7_200_000,
      chunkSize: 1_000,
      leaseTimeoutMs: 7_200_000,
      attemptTimeoutMs: 21_600_000,
      verifiersPerChunk: 2,
      finalizationEpochs: 10
    })
    expect(environmentWithEpoch('testing', undefined, 10)).toEqual({ ...ENVIRONMENTS.testing, chunkSize: 10 })
    const dev = environmentWithEpoch('development', 5_000)
    expect(dev.sampleIntervalMs).toBe(500)
    expect(dev.epochDeadlineMs).toBe(15_000)
  })

  it('never samples faster than every 50 ms and rounds derived values to integers', () => {
    expect(environmentWithEpoch('testing', 100).sampleIntervalMs).toBe(50)
    const odd = environmentWithEpoch('testing', 1_234)
    for (const v of [odd.sampleIntervalMs, odd.reportDeadlineMs, odd.proposerStaggerMs, odd.submitStaggerMs, odd.epochDeadlineMs]) {
      expect(Number.isInteger(v)).toBe(true)
    }
    expect(odd.reportDeadlineMs).toBe(617)
    expect(odd.proposerStaggerMs).toBe(123)
    expect(odd.submitStaggerMs).toBe(62)
    expect(odd.sampleIntervalMs).toBe(123)
  })

  it('does not modify the presets', () => {
    const before = JSON.stringify(ENVIRONMENTS)
    for (const name of ['testing', 'development', 'production'] as EnvironmentName[]) environmentWithEpoch(name, 12_345)
    expect(JSON.stringify(ENVIRONMENTS)).toBe(before)
  })
})

describe('epoch arithmetic', () => {
  const genesis = 1_700_000_000_000
  const len = 2_000

  it('epoch 1 starts at genesis; epoch e covers [genesis + (e−1)·len, genesis + e·len)', () => {
    expect(epochWindow(genesis, len, 1)).toEqual({ epoch: 1, startMs: genesis, endMs: genesis + 2_000 })
    expect(epochWindow(genesis, len, 2)).toEqual({ epoch: 2, startMs: genesis + 2_000, endMs: genesis + 4_000 })
    expect(epochWindow(genesis, len, 100)).toEqual({ epoch: 100, startMs: genesis + 198_000, endMs: genesis + 200_000 })
  })

  it('epochAt is 0 before genesis and switches exactly at the boundaries', () => {
    expect(epochAt(genesis, len, 0)).toBe(0)
    expect(epochAt(genesis, len, genesis - 1)).toBe(0)
    expect(epochAt(genesis, len, genesis)).toBe(1)
    expect(epochAt(genesis, len, genesis + 1_999)).toBe(1)
    expect(epochAt(genesis, len, genesis + 2_000)).toBe(2)
    expect(epochAt(genesis, len, genesis + 3_999)).toBe(2)
    expect(epochAt(genesis, len, genesis + 4_000)).toBe(3)
  })

  it('the window of epochAt(t) contains t, and consecutive windows tile time (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 44 }),
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      (g, epochMs, offset) => {
        const now = g + offset
        const e = epochAt(g, epochMs, now)
        expect(e).toBeGreaterThanOrEqual(1)
        const w = epochWindow(g, epochMs, e)
        expect(w.startMs).toBeLessThanOrEqual(now)
        expect(now).toBeLessThan(w.endMs)
        expect(w.endMs - w.startMs).toBe(epochMs)
        expect(epochWindow(g, epochMs, e + 1).startMs).toBe(w.endMs)
        expect(epochAt(g, epochMs, w.startMs)).toBe(e)
        expect(epochAt(g, epochMs, w.endMs - 1)).toBe(e)
        expect(epochAt(g, epochMs, w.endMs)).toBe(e + 1)
        if (g > 0) expect(epochAt(g, epochMs, g - 1)).toBe(0)
      }
    ), { numRuns: 300 })
  })
})
