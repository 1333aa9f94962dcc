import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { RESULTS_DIR } from './paths.js'
import { readRows, textTable, writeTable } from './results.js'

/** `npm run e2e`: a fresh rows file for the run; at the end, the result table (terminal + markdown). */
export default function setup (project: TestProject): () => void {
  const rowsFile = join(RESULTS_DIR, 'e2e-rows.jsonl')
  rmSync(rowsFile, { force: true })
  project.provide('e2eRowsFile', rowsFile)
  return () => {
    const rows = readRows(rowsFile)
    if (rows.length === 0) return
    writeTable(rows, 'e2e-latest.md', 'Perturbation suite (npm run e2e)')
    console.log(`\nPerturbation suite results (also in test/e2e/results/e2e-latest.md):\n\n${textTable(rows)}\n`)
  }
}
