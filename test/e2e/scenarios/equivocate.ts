import { kill, restart, wait } from '../harness/faults.js'
import type { ScenarioSpec, Step } from '../harness/scenario.js'
import { epochSeconds, names, QUIET_RSS } from './common.js'

/**
 * A member in the deliberate `rewards.fault = equivocate` mode publishes two different reports per
 * epoch, the whole run. With N = 7 (f = 2) another node is also killed for 4 epochs and restarted.
 *
 * Invariants: the equivocator is the one member exempt from "one report per sender and epoch"
 * (it is still held to "one READY per slot"); everyone else has at most one report per epoch in
 * delivered blocks; records, liveness (the equivocator counts as faulty), catch-up, RSS bounded.
 */
export function equivocator (n: number): ScenarioSpec {
  const all = names(n)
  const liar = all.at(-1)!
  const steps: Step[] = n >= 7
    ? [{ at: { epoch: 2 }, do: kill(all[1]!) }, { at: { afterEpochs: 4 }, do: restart(all[1]!) }]
    : [{ at: { epoch: 12 }, do: wait('12 epochs with an equivocator') }]
  return {
    name: 'equivocator',
    n,
    faults: `${liar} publishes two reports per epoch (rewards.fault = equivocate)${n >= 7 ? `; ${all[1]!} killed for 4 epochs` : ''}`,
    cluster: { app: 'rewards', epochSeconds: epochSeconds(n), nodeSetFor: { [liar]: ['rewards.fault=equivocate'] } },
    equivocators: [liar],
    steps,
    setup: async (run) => { run.ledger.begin(liar, 'byzantine', 'equivocates') },
    tailEpochs: 4,
    invariants: {
      liveness: { maxGap: 3 },
      catchUpWithinMs: 40_000,
      rss: QUIET_RSS
    }
  }
}
