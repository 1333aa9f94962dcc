import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { equivocator } from './scenarios/equivocate.js'

describe('perturbation: a member equivocates on its reports', () => {
  for (const n of [4, 7]) scenarioTest(() => equivocator(n), { timeoutMs: 10 * 60_000 })
})
