import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { partitions } from './scenarios/partition.js'

describe('perturbation: network partitions (transport fault switch)', () => {
  for (const n of [4, 7]) scenarioTest(() => partitions(n), { timeoutMs: 10 * 60_000 })
})
