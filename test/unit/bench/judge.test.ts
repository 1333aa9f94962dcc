import { describe, expect, it } from 'vitest'
import { closeVerdicts, epochStats, judgeEpochs, measuredEpochs, percentile, type EpochSummary } from '../../../scripts/bench/judge.mjs'

/** Judging a bench row's epochs (scripts/bench/judge.mjs). */
describe('bench epoch judging', () => {
  const L = 2_000
  const window = 10 * L
  const summary = (epoch: number, status: string, extra: Partial<EpochSummary> = {}): EpochSummary => ({ epoch, status, endMs: epoch * L, ...extra })

  it('measures after the epoch running at the start and one warm-up epoch', () => {
    expect(measuredEpochs(7, 8)).toEqual({ first: 9, last: 16 })
    expect(measuredEpochs(7, 3, 0)).toEqual({ first: 8, last: 10 })
  })

  it('does not judge an epoch that ended a moment ago as not committed: it waits', () => {
    const j = judgeEpochs({ summaries: [summary(3, 'committed', { latencyMs: 200 }), summary(4, 'pending')], first: 3, last: 4, now: 4 * L + 50, commitWindowMs: window })
    expect(j.done).toBe(false)
    expect(j.verdicts).toEqual([{ epoch: 3, verdict: 'committed', latencyMs: 200 }, { epoch: 4, verdict: 'waiting' }])
  })

  it('judges committed and failed epochs as the coordinator says, at once', () => {
    const j = judgeEpochs({ summaries: [summary(5, 'failed', { reason: 'no chunk arrived' }), summary(6, 'committed', { latencyMs: 300 })], first: 5, last: 6, now: 6 * L + 1, commitWindowMs: window })
    expect(j.done).toBe(true)
    expect(j.verdicts).toEqual([{ epoch: 5, verdict: 'failed', reason: 'no chunk arrived' }, { epoch: 6, verdict: 'committed', latencyMs: 300 }])
  })

  it('calls an epoch undecided only after its commit deadline (its end + the finalization window)', () => {
    const p = { summaries: [summary(5, 'pending')], first: 5, last: 5, commitWindowMs: window }
    expect(judgeEpochs({ ...p, now: 5 * L + window }).verdicts[0]?.verdict).toBe('waiting')
    const late = judgeEpochs({ ...p, now: 5 * L + window + 1 })
    expect(late.done).toBe(true)
    expect(late.verdicts[0]).toEqual({ epoch: 5, verdict: 'undecided', reason: 'not committed 20 s after its end' })
  })

  it('waits for epochs the coordinator does not list yet, and reports them at the row deadline', () => {
    const j = judgeEpochs({ summaries: [], first: 1, last: 2, now: 1e12, commitWindowMs: window })
    expect(j.done).toBe(false)
    expect(closeVerdicts(j.verdicts, 'deadline')).toEqual([{ epoch: 1, verdict: 'unjudged', reason: 'deadline' }, { epoch: 2, verdict: 'unjudged', reason: 'deadline' }])
  })

  it('takes nearest-rank percentiles', () => {
    expect(percentile([], 50)).toBeNaN()
    expect(percentile([5], 95)).toBe(5)
    expect(percentile([4, 1, 3, 2], 50)).toBe(2)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9)
  })

  it('sums up a row: committed of measured, latency of the committed, the others with their reasons', () => {
    const stats = epochStats([
      { epoch: 1, verdict: 'committed', latencyMs: 100 },
      { epoch: 2, verdict: 'committed', latencyMs: 300 },
      { epoch: 3, verdict: 'failed', reason: 'x' },
      { epoch: 4, verdict: 'committed', latencyMs: 200 }
    ])
    expect(stats).toEqual({ epochs: 4, committed: 3, latencyMs: { p50: 200, p95: 300, max: 300 }, notCommitted: [{ epoch: 3, verdict: 'failed', reason: 'x' }] })
    expect(epochStats([{ epoch: 1, verdict: 'undecided', reason: 'y' }]).latencyMs).toBeNull()
  })
})
