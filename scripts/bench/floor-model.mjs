// The floor model of `npm run bench` (README "Benchmark"): the least time from an epoch's end to
// its commit that this design can take on this machine, from constants measured here
// (floor-measure.mjs). Pure arithmetic, unit-tested in test/unit/bench/floor-model.test.ts.
//
//   floor = max( (N × per-node work + the proposer's extra work + the coordinator's work) / min(cores, N + 1),
//                the coordinator's work, one node's work + the proposer's )   (one process uses one core)
//         + the synced writes on the critical path, one after the other
//         + the sequential one-way hops × the loopback one-way latency between two Node processes
//
// The standalone baseline (one node, one report, a whole submission) does everything in sequence:
// its floor is the node's work + the coordinator's + its synced write + its hops.

/**
 * The sequential one-way message delays between an epoch's end and the coordinator's commit
 * (README "An epoch's life", docs/PROTOCOL.md §4 and §7.6): a request and its answer are two.
 */
export const CONSENSUS_HOPS = Object.freeze([
  { step: 'report gossip (each report reaches the others)', hops: 1 },
  { step: 'PROPOSE', hops: 1 },
  { step: 'ECHO', hops: 1 },
  { step: 'READY', hops: 1 },
  { step: 'GET /contract/epochs/{e}/round and its answer', hops: 2 },
  { step: 'POST chunks/contributions with lock: true (the first carries the block) and its answer', hops: 2 },
  { step: 'the round\'s long poll answers a verifier', hops: 1 },
  { step: 'POST chunks/verifications reaches the coordinator, which commits', hops: 1 }
])

export const STANDALONE_HOPS = Object.freeze([
  { step: 'GET /contract/epochs/{e} (no record yet) and its answer', hops: 2 },
  { step: 'POST /contract/epochs/{e}/submissions reaches the coordinator, which commits', hops: 1 }
])

export function hopCount (hops) {
  return hops.reduce((sum, h) => sum + h.hops, 0)
}

function total (parts) {
  return Object.values(parts ?? {}).reduce((sum, ms) => sum + ms, 0)
}

const round2 = (ms) => Math.round(ms * 100) / 100

/**
 * The floor of one row.
 * @param {{ mode: 'consensus' | 'standalone', nodes: number, cores: number, oneWayMs: number,
 *   work: { node: Record<string, number>, once?: Record<string, number>, coordinator: Record<string, number>, sync: Record<string, number> } }} p
 *   work: measured milliseconds per step — `node` what each node does, `once` what only one node
 *   does (the proposer), `coordinator` the coordinator's checks, `sync` the synced writes on the
 *   critical path.
 */
export function floorModel (p) {
  if (!(p.cores >= 1) || !(p.oneWayMs >= 0) || !(p.nodes >= 1)) throw new RangeError('cores ≥ 1, nodes ≥ 1 and oneWayMs ≥ 0')
  const standalone = p.mode === 'standalone'
  const n = standalone ? 1 : p.nodes
  const perNodeMs = total(p.work.node)
  const onceMs = total(p.work.once)
  const coordinatorMs = total(p.work.coordinator)
  const cpuMs = n * perNodeMs + onceMs + coordinatorMs
  // N node processes and the coordinator share the cores; the standalone pair works in turn.
  // A process runs on one core: the work cannot take less than the largest share of one process.
  const parallelism = standalone ? 1 : Math.min(p.cores, n + 1)
  const spreadMs = Math.max(cpuMs / parallelism, coordinatorMs, perNodeMs + onceMs)
  const syncMs = total(p.work.sync)
  const hops = hopCount(standalone ? STANDALONE_HOPS : CONSENSUS_HOPS)
  const hopsMs = hops * p.oneWayMs
  return {
    floorMs: round2(spreadMs + syncMs + hopsMs),
    perNodeMs: round2(perNodeMs),
    onceMs: round2(onceMs),
    coordinatorMs: round2(coordinatorMs),
    cpuMs: round2(cpuMs),
    parallelism,
    spreadMs: round2(spreadMs),
    syncMs: round2(syncMs),
    hops,
    oneWayMs: p.oneWayMs,
    hopsMs: round2(hopsMs)
  }
}
