import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { flood } from './scenarios/flood.js'

describe('perturbation: a Byzantine member floods proposals and garbage frames', () => {
  for (const n of [4, 7]) scenarioTest(() => flood(n), { timeoutMs: 15 * 60_000 })
})
