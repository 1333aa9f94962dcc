import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { restartHistoryMessages, restartHistoryRewards } from './scenarios/restart.js'

describe('perturbation: whole-cluster restart after a long history', () => {
  for (const n of [4, 7]) {
    scenarioTest(() => restartHistoryMessages(n), { timeoutMs: 20 * 60_000 })
    scenarioTest(() => restartHistoryRewards(n), { timeoutMs: 15 * 60_000 })
  }
})
