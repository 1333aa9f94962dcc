import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { slowWs } from './scenarios/slow-ws.js'

describe('perturbation: slow WebSocket clients', () => {
  for (const n of [4, 7]) scenarioTest(() => slowWs(n), { timeoutMs: 10 * 60_000 })
})
