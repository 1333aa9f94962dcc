/** Defaults shared by the scenarios. */

/** Epoch length: 2 s for N = 4; 3 s for N = 7 (8 processes on 2 cores). */
export function epochSeconds (n: number): number {
  return n <= 4 ? 2 : 3
}

/** The members, in order: node1..nodeN. */
export function names (n: number): string[] {
  return Array.from({ length: n }, (_, i) => `node${i + 1}`)
}

/** RSS bounds for a quiet cluster (a node idles at ~140 MiB, the coordinator at ~85 MiB). */
export const QUIET_RSS = { nodeMiB: 400, coordinatorMiB: 300 }

/** What a fault scenario on a rewards cluster checks besides records and signatures. */
export const FAULT_INVARIANTS = {
  liveness: { maxGap: 3 },
  catchUpWithinMs: 40_000,
  rss: QUIET_RSS
}
