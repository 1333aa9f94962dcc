import { heal, partition, wait } from '../harness/faults.js'
import type { ScenarioSpec } from '../harness/scenario.js'
import { epochSeconds, names, QUIET_RSS } from './common.js'

/**
 * Network partitions, through the transport's test-only fault switch (p2p.fault_partition_file):
 * first f members cut off from the rest (the majority keeps a quorum) for 5 epochs, then healed;
 * then a split in which no side holds a quorum (2|2 for N = 4, 4|3 for N = 7) for 4 epochs,
 * then healed. The coordinator stays reachable over HTTP by everyone.
 *
 * Invariants: the majority keeps committing while the minority is cut off; no side commits
 * anything conflicting during the split (one record per epoch, no double signing); after each
 * heal commits resume within a bounded delay and every cut-off member catches up (it stores the
 * official records of the epochs it missed); RSS bounded.
 */
export function partitions (n: number): ScenarioSpec {
  const all = names(n)
  const f = Math.floor((n - 1) / 3)
  const minority = all.slice(n - f)
  const half = all.slice(0, Math.ceil(n / 2))
  return {
    name: 'partition',
    n,
    faults: `cut {${minority.join(',')}} off for 5 epochs; then split ${half.length}|${n - half.length} (no quorum) for 4 epochs; each healed`,
    cluster: { app: 'rewards', epochSeconds: epochSeconds(n) },
    steps: [
      { at: { epoch: 1, at: 0.3 }, do: partition(minority) },
      { at: { afterEpochs: 5 }, do: heal() },
      { settle: true, at: { afterEpochs: 1, at: 0.3 }, do: partition(half) },
      { at: { afterEpochs: 4 }, do: wait('split for 4 epochs') },
      { do: heal() }
    ],
    tailEpochs: 6,
    invariants: {
      liveness: { maxGap: 3 },
      catchUpWithinMs: 40_000,
      rss: QUIET_RSS
    }
  }
}
