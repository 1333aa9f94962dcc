import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { fullDisk } from './scenarios/disk.js'

describe('perturbation: a full disk (tmpfs) under the coordinator or a node', () => {
  for (const n of [4, 7]) {
    scenarioTest(() => fullDisk(n, 'coordinator'), { timeoutMs: 10 * 60_000 })
    scenarioTest(() => fullDisk(n, 'node'), { timeoutMs: 10 * 60_000 })
  }
})
