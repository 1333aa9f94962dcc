import { describe } from 'vitest'
import { scenarioTest } from './harness/vitest.js'
import { largeBlock } from './scenarios/large-block.js'

describe('edge: a block near the protocol\'s size limit', () => {
  for (const n of [4, 7]) scenarioTest(() => largeBlock(n), { timeoutMs: 8 * 60_000 })
})
