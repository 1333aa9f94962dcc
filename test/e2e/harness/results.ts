import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RESULTS_DIR } from './paths.js'

/**
 * The result table: scenario | N | faults | epochs committed | invariants checked | result.
 * Each scenario appends one JSON row to a rows file; whoever ends the run (the e2e global
 * teardown, or the CI runner's afterAll) prints the table and writes it as markdown under
 * test/e2e/results/ (gitignored).
 */

export interface ResultRow {
  scenario: string
  n: number
  faults: string
  /** Epochs committed (rewards), or blocks delivered (messages). */
  committed: string
  invariants: string
  result: 'PASS' | 'FAIL' | 'SKIP'
  /** Failures (or the skip reason), shortened. */
  details: string[]
  durationS: number
  notes: string[]
}

export function appendRow (rowsFile: string, row: ResultRow): void {
  mkdirSync(RESULTS_DIR, { recursive: true })
  appendFileSync(rowsFile, JSON.stringify(row) + '\n')
}

export function readRows (rowsFile: string): ResultRow[] {
  try {
    return readFileSync(rowsFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ResultRow)
  } catch {
    return []
  }
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function markdownTable (rows: ResultRow[], title: string): string {
  const lines = [
    `## ${title}`,
    '',
    `${new Date().toISOString()}; ${rows.filter((r) => r.result === 'PASS').length} passed, ${rows.filter((r) => r.result === 'FAIL').length} failed, ${rows.filter((r) => r.result === 'SKIP').length} skipped; ${Math.round(rows.reduce((s, r) => s + r.durationS, 0))} s in scenarios`,
    '',
    '| scenario | N | faults | epochs committed | invariants checked | result |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${cell(r.scenario)} | ${r.n} | ${cell(r.faults)} | ${cell(r.committed)} | ${cell(r.invariants)} | ${r.result === 'PASS' ? 'PASS' : `**${r.result}**: ${cell(r.details.slice(0, 3).join('; ').slice(0, 600))}${r.details.length > 3 ? ` (+${r.details.length - 3} more)` : ''}`} |`)
  ]
  const notes = rows.flatMap((r) => r.notes.map((n) => `- ${r.scenario} (N=${r.n}): ${n}`))
  if (notes.length > 0) lines.push('', 'Notes:', '', ...notes)
  return lines.join('\n') + '\n'
}

/** A plain-text table for the terminal. */
export function textTable (rows: ResultRow[]): string {
  const head = ['scenario', 'N', 'faults', 'epochs committed', 'invariants checked', 'result']
  const body = rows.map((r) => [r.scenario, String(r.n), r.faults, r.committed, r.invariants, r.result === 'PASS' ? 'PASS' : `${r.result}: ${r.details[0] ?? ''}${r.details.length > 1 ? ` (+${r.details.length - 1} more)` : ''}`])
  const clip = (s: string, w: number): string => (s.length > w ? s.slice(0, w - 1) + '…' : s)
  const widths = [24, 2, 48, 18, 70, 90]
  const fmt = (cols: string[]): string => cols.map((c, i) => clip(c, widths[i]!).padEnd(widths[i]!)).join(' | ')
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(fmt)].join('\n')
}

export function writeTable (rows: ResultRow[], file: string, title: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const md = markdownTable(rows, title)
  writeFileSync(join(RESULTS_DIR, file), md)
  return md
}
