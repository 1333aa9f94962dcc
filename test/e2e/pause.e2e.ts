import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { pauseResume } from './scenarios/pause.js'

describe('perturbation: SIGSTOP / SIGCONT of nodes and the coordinator', () => {
  for (const n of [4, 7]) scenarioTest(() => pauseResume(n), { timeoutMs: 10 * 60_000 })
})
