import { expect, inject, it } from 'vitest'
import { join } from 'node:path'
import { RESULTS_DIR } from './paths.js'
import { appendRow } from './results.js'
import { runScenario, type ScenarioSpec } from './scenario.js'
import { textTable } from './results.js'

declare module 'vitest' {
  export interface ProvidedContext {
    e2eRowsFile: string
  }
}

/** Where result rows go: the e2e global setup's file, or the CI runner's. */
export function rowsFile (fallback = 'rows.jsonl'): string {
  try {
    const provided = inject('e2eRowsFile')
    if (typeof provided === 'string' && provided !== '') return provided
  } catch {}
  return join(RESULTS_DIR, fallback)
}

/** One vitest test per scenario: runs it, records its row, fails with every violation. */
export function scenarioTest (make: () => ScenarioSpec, opts: { timeoutMs: number, rows?: () => string, title?: string }): void {
  const spec = make()
  it(opts.title ?? `${spec.name} (N=${spec.n}): ${spec.faults}`, async (t) => {
    const result = await runScenario(make(), opts.timeoutMs - 30_000)
    appendRow(opts.rows?.() ?? rowsFile(), result.row)
    console.log(`\n${textTable([result.row])}\n${result.notes.map((n) => `  note: ${n}`).join('\n')}`)
    if (result.skipped != null) t.skip(result.skipped)
    expect(result.violations, `${spec.name} (N=${spec.n}) broke ${result.violations.length} invariant(s):\n${result.violations.join('\n')}`).toEqual([])
  }, opts.timeoutMs)
}
