// Judging a bench row's epochs from the coordinator's GET /contract/epochs (pure; unit-tested in
// test/unit/bench/judge.test.ts). An epoch is judged only once it is decided — committed, or
// failed by the coordinator — or once its commit deadline (its end + the finalization window,
// after which the coordinator fails it) has passed: an epoch that ended a moment ago is not yet
// "not committed".

/** The epochs a row measures: after the one running when the mesh formed, one warm-up epoch, then `count`. */
export function measuredEpochs (currentEpoch, count, warmup = 1) {
  const first = currentEpoch + 1 + warmup
  return { first, last: first + count - 1 }
}

/**
 * Verdict per measured epoch at time `now`:
 *  committed / failed — as the coordinator says;
 *  undecided — still open or pending after its commit deadline (counted as not committed);
 *  waiting — not decided and within its deadline: not judged yet.
 * @param {{ summaries: Array<{ epoch: number, status: string, endMs: number, latencyMs?: number, reason?: string }>,
 *   first: number, last: number, now: number, commitWindowMs: number }} p
 */
export function judgeEpochs (p) {
  const byEpoch = new Map(p.summaries.map((s) => [s.epoch, s]))
  const verdicts = []
  for (let epoch = p.first; epoch <= p.last; epoch++) {
    const s = byEpoch.get(epoch)
    if (s?.status === 'committed') verdicts.push({ epoch, verdict: 'committed', latencyMs: s.latencyMs })
    else if (s?.status === 'failed') verdicts.push({ epoch, verdict: 'failed', reason: s.reason ?? 'failed' })
    else if (s != null && p.now > s.endMs + p.commitWindowMs) verdicts.push({ epoch, verdict: 'undecided', reason: `not committed ${Math.round(p.commitWindowMs / 1000)} s after its end` })
    else verdicts.push({ epoch, verdict: 'waiting' })
  }
  return { verdicts, done: verdicts.every((v) => v.verdict !== 'waiting') }
}

/** At a row's deadline: what is still waiting is reported as such (not committed, not failed). */
export function closeVerdicts (verdicts, reason) {
  return verdicts.map((v) => v.verdict === 'waiting' ? { epoch: v.epoch, verdict: 'unjudged', reason } : v)
}

/** Nearest-rank percentile (p in 0..100) of numbers; NaN when there are none. */
export function percentile (values, p) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** What a row reports of its epochs: committed of judged, latency percentiles, the others' reasons. */
export function epochStats (verdicts) {
  const committed = verdicts.filter((v) => v.verdict === 'committed')
  const latencies = committed.map((v) => v.latencyMs)
  const others = verdicts.filter((v) => v.verdict !== 'committed')
  return {
    epochs: verdicts.length,
    committed: committed.length,
    latencyMs: latencies.length === 0 ? null : { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: Math.max(...latencies) },
    notCommitted: others.map((v) => ({ epoch: v.epoch, verdict: v.verdict, reason: v.reason }))
  }
}
