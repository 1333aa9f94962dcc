/**
 * `npm run sim:scale` (vitest.sim.config.ts; not part of the normal suite): runs the scale
 * simulation's matrix, prints it, and writes docs/SIMULATION.md.
 *
 *   SIM_SIZES=4,7,10   only these N (default 4, 7, 10, 16, 25, 50, 100)
 *   SIM_MODELS=LAN     only these network models (default loopback, LAN, WAN)
 *   SIM_OUT=file.md    write there instead of docs/SIMULATION.md
 */
import { writeFile } from 'node:fs/promises'
import { expect, it } from 'vitest'
import { renderMarkdown, summaryTable } from './scale-doc.js'
import { MODELS, runScale, SIZES } from './scale-run.js'

const list = (value: string | undefined): string[] | undefined => value?.split(',').map((s) => s.trim()).filter((s) => s !== '')

it('simulates N = 4 … 100, ours against all-propose, and writes docs/SIMULATION.md', async () => {
  const sizes = list(process.env.SIM_SIZES)?.map(Number) ?? SIZES
  const names = list(process.env.SIM_MODELS)
  const models = names == null ? MODELS : MODELS.filter((m) => names.includes(m.name))
  expect(models.length, `SIM_MODELS names none of ${MODELS.map((m) => m.name).join(', ')}`).toBeGreaterThan(0)
  const report = await runScale({ sizes, models, leaderDownModel: 'LAN', log: (line) => { process.stdout.write(`${line}\n`) } })
  const markdown = renderMarkdown(report)
  const out = process.env.SIM_OUT ?? 'docs/SIMULATION.md'
  await writeFile(out, markdown)
  process.stdout.write(`\n${summaryTable(report).join('\n')}\n\nwritten to ${out}\n`)
  // every honest node delivered in every epoch of every row
  expect(report.rows.flatMap((r) => r.epochs.flatMap((e) => e.problems.map((p) => `${r.model} N=${r.n} ${r.design} epoch ${e.epoch}: ${p}`)))).toEqual([])
})
