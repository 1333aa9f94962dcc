import { pause, resume, wait } from '../harness/faults.js'
import type { ScenarioSpec, Step } from '../harness/scenario.js'
import { epochSeconds, FAULT_INVARIANTS, names } from './common.js'

/**
 * SIGSTOP / SIGCONT: f nodes frozen for 4 epochs (their TCP connections stay open, so the others
 * see them as connected but silent), then the coordinator frozen for 1.5 epochs mid-epoch (the
 * nodes' submissions hang rather than fail), then one node frozen again across two epoch ends.
 *
 * Invariants: epochs keep committing while ≤ f nodes are frozen; commits resume within a bounded
 * delay after the coordinator thaws (the epochs it missed are decided late or adopted); every
 * thawed node catches up; records, no double signing, RSS bounded.
 */
export function pauseResume (n: number): ScenarioSpec {
  const all = names(n)
  const f = Math.floor((n - 1) / 3)
  const frozen = all.slice(1, 1 + f)
  const steps: Step[] = [
    ...frozen.map((name) => ({ at: { epoch: 1, at: 0.3 }, do: pause(name) })),
    { at: { afterEpochs: 4 }, do: wait(`${frozen.join(', ')} frozen for 4 epochs`) },
    ...frozen.map((name) => ({ do: resume(name) })),
    { settle: true, at: { afterEpochs: 1, at: 0.2 }, do: pause('coordinator') },
    { at: { afterMs: 1.5 * epochSeconds(n) * 1000 }, do: resume('coordinator') },
    { settle: true, at: { afterEpochs: 1, at: 0.8 }, do: pause(all.at(-1)!) },
    { at: { afterEpochs: 2, at: 0.3 }, do: resume(all.at(-1)!) }
  ]
  return {
    name: 'pause-resume',
    n,
    faults: `SIGSTOP ${frozen.join('+')} for 4 epochs; coordinator for 1.5 epochs; ${all.at(-1)!} across 2 epoch ends; each SIGCONT`,
    cluster: { app: 'rewards', epochSeconds: epochSeconds(n) },
    steps,
    tailEpochs: 4,
    invariants: FAULT_INVARIANTS
  }
}
