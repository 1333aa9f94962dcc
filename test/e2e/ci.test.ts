import { afterAll, beforeAll, describe } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { killAllManaged } from './harness/proc.js'
import { RESULTS_DIR } from './harness/paths.js'
import { readRows, textTable, writeTable } from './harness/results.js'
import { scenarioTest } from './harness/vitest.js'
import { crashPhases } from './scenarios/crash.js'
import { fullDisk } from './scenarios/disk.js'
import { flood } from './scenarios/flood.js'
import { partitions } from './scenarios/partition.js'
import { restartHistoryMessages } from './scenarios/restart.js'

/**
 * The perturbation suite's CI subset, the last step of `npm test` (`npm run e2e:ci`; the whole suite is `npm run e2e`):
 * N = 4, one scenario at a time, in about 6–8 minutes on a 2-core machine. Prints the result
 * table and writes it to test/e2e/results/ci-latest.md.
 */

const rows = join(RESULTS_DIR, 'ci-rows.jsonl')

describe('perturbation suite (CI subset, N = 4)', () => {
  beforeAll(() => { rmSync(rows, { force: true }) })
  afterAll(() => {
    killAllManaged()
    const table = readRows(rows)
    if (table.length === 0) return
    writeTable(table, 'ci-latest.md', 'Perturbation suite, CI subset (npm test)')
    console.log(`\nPerturbation suite, CI subset (also in test/e2e/results/ci-latest.md):\n\n${textTable(table)}\n`)
  })

  const opts = { timeoutMs: 8 * 60_000, rows: () => rows }
  scenarioTest(() => crashPhases(4, { short: true }), opts)
  scenarioTest(() => partitions(4), opts)
  // a lighter flood than the full suite's (about 1.1 GB instead of 2.2 GB to send): still far
  // beyond what the RSS bound allows a node to keep
  scenarioTest(() => flood(4, { proposals: 60, bigRounds: 40, rounds: 150, garbageFrames: 200 }), opts)
  scenarioTest(() => fullDisk(4, 'coordinator'), opts)
  scenarioTest(() => restartHistoryMessages(4, { rounds: 70 }), opts)
})
