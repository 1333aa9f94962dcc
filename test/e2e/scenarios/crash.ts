import { crashAt, kill, restart } from '../harness/faults.js'
import type { ScenarioSpec, Step } from '../harness/scenario.js'
import { epochSeconds, FAULT_INVARIANTS, names } from './common.js'

/**
 * kill -9 at every phase of an epoch, one process at a time: nodes at computing, gossiping,
 * broadcasting, submitting and committed (the product's EPHEMERA_TEST_CRASH_AT hook, so the
 * moment is exact); the coordinator when a submission arrives, in the middle of tryAdvance
 * (prepared, before the commit batch) and right after it stored a record (before answering); then
 * the coordinator killed at 10 %, 50 % and 90 % into an epoch. Each victim is restarted a second
 * later. With N = 7 (f = 2) two nodes die in each node phase.
 *
 * Invariants: one record per epoch that never changes or disappears, every node stores it, no
 * double signing, epochs keep committing (≤ K = 3 missed in a row while ≤ f members are down),
 * every restarted node catches up, RSS bounded.
 */
export function crashPhases (n: number, opts: { short?: boolean } = {}): ScenarioSpec {
  const all = names(n)
  const perPhase = n >= 7 ? 2 : 1
  const L = epochSeconds(n)
  // crash points are armed at start for fixed epochs: leave each victim ~16 s to restart and
  // catch up before the next one dies
  const spacing = Math.ceil(16 / L)
  const steps: Step[] = []
  let k = 1
  let victim = 0
  const short = opts.short === true
  const phases = short ? ['computing', 'broadcasting', 'committed'] : ['computing', 'gossiping', 'broadcasting', 'submitting', 'committed']
  for (const phase of phases) {
    const victims = Array.from({ length: perPhase }, () => all[victim++ % n]!)
    for (const v of victims) steps.push({ at: { epoch: k }, do: crashAt(v, phase) })
    for (const v of victims) steps.push({ at: { afterMs: 1_000 }, do: restart(v) })
    k += spacing
  }
  const coordinatorPoints = short ? ['commit'] : ['submission', 'advance', 'commit']
  for (const point of coordinatorPoints) {
    steps.push({ at: { epoch: k }, do: crashAt('coordinator', point) }, { at: { afterMs: 1_000 }, do: restart('coordinator') })
    k += spacing
  }
  // timed kills of the coordinator, each once the cluster has settled from the previous fault
  for (const offset of short ? [0.5] : [0.1, 0.5, 0.9]) {
    steps.push({ settle: true, at: { afterEpochs: 1, at: offset }, do: kill('coordinator') }, { at: { afterMs: 1_000 }, do: restart('coordinator') })
  }
  return {
    name: short ? 'crash-phases-short' : 'crash-phases',
    n,
    faults: `kill -9 ${perPhase > 1 ? `${perPhase} nodes ` : 'a node '}at ${phases.join('/')}; coordinator at ${coordinatorPoints.join('/')} and at ${short ? '50 %' : '10/50/90 %'} of an epoch; each restarted 1 s later`,
    cluster: { app: 'rewards', epochSeconds: L },
    steps,
    tailEpochs: 4,
    invariants: FAULT_INVARIANTS
  }
}
