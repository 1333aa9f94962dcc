import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { crashPhases } from './scenarios/crash.js'

describe('perturbation: kill -9 at every phase of an epoch (nodes and coordinator)', () => {
  for (const n of [4, 7]) scenarioTest(() => crashPhases(n), { timeoutMs: 15 * 60_000 })
})
