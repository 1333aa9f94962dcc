#!/usr/bin/env node
// Benchmark (README "Benchmark"): epoch-end → commit latency, RBC messages and bytes per epoch,
// CPU, RSS and time to mesh, for networks of N nodes as separate processes on this machine,
// against the standalone baseline and the floor model measured on this machine. Uses the built
// dist/ (npm run bench builds first). `node scripts/bench.mjs --help` lists the options.
//
// Writes the raw figures (bench-results.json), docs/BENCHMARK.md (tables and the floor model's
// constants) and docs/bench-latency.svg (latency against N); with the default plan (or --readme)
// it also refreshes the table in README.md "Benchmark".
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { floorModel } from './bench/floor-model.mjs'
import { measureWork } from './bench/floor-measure.mjs'
import { loopbackLatency } from './bench/loopback.mjs'
import { describeRow, parseOptions, USAGE } from './bench/options.mjs'
import { README_END, README_START, benchmarkMarkdown, latencySvg, ms, replaceBetween, resultsTable, rowNote } from './bench/render.mjs'
import { cleanups, consensusRow, standaloneRow } from './bench/rows.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

let opts
try {
  opts = parseOptions(process.argv.slice(2))
} catch (err) {
  process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`)
  process.exit(2)
}
if (opts.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const { environmentWithEpoch } = await import(new URL('../dist/src/epochs/environment.js', import.meta.url).href).catch((err) => {
  process.stderr.write(`error: cannot load dist/ (run npm run build first): ${err.message}\n`)
  process.exit(1)
})

const t0 = Date.now()
const elapsed = () => {
  const s = Math.round((Date.now() - t0) / 1000)
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
}
const say = (line) => { process.stdout.write(`[${elapsed()}] ${line}\n`) }

const cores = availableParallelism()
let commit = 'unknown'
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  if (execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '') commit += ' with uncommitted changes'
} catch {}
const meta = {
  date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
  commit,
  node: process.version,
  cores,
  cpu: cpus()[0]?.model ?? 'unknown CPU',
  loadavg: loadavg().map((l) => l.toFixed(2)),
  out: opts.out,
  plan: opts.isDefaultPlan ? 'the default plan' : `rows ${opts.rows.map((r) => r.mode === 'standalone' ? `standalone@${r.epochSeconds}/${r.mixnodes}` : `${r.nodes}@${r.epochSeconds}/${r.mixnodes}x${r.epochs}`).join(', ')}`
}
say(`ephemera-ts benchmark: ${opts.rows.length} rows, ${cores} cores, load ${meta.loadavg.join(' ')}; the machine should be otherwise idle`)
const loopback = await loopbackLatency().catch((err) => {
  say(`the loopback latency could not be measured (${err.message}): no floor this run`)
  return { oneWayMs: NaN, roundTripP50Ms: NaN, roundTripP95Ms: NaN, roundTrips: 0, messageBytes: 0 }
})
say(`loopback one-way latency between two Node processes: ${loopback.oneWayMs} ms (round trip p50 ${loopback.roundTripP50Ms} ms)`)

/** The floor of a row: its work measured now (before its processes start), with the model's arithmetic. */
const works = new Map()
async function floorOf (row) {
  const env = environmentWithEpoch('testing', row.epochSeconds * 1000)
  const key = `${row.mode}/${row.nodes}/${row.mixnodes}/${env.chunkSize}`
  if (!works.has(key)) {
    works.set(key, await measureWork({ mode: row.mode, nodes: row.nodes, mixnodes: row.mixnodes, chunkSize: env.chunkSize, samples: Math.round(env.epochMs / env.sampleIntervalMs), epochMs: env.epochMs, verifiersPerChunk: env.verifiersPerChunk }))
  }
  const work = works.get(key)
  return { ...floorModel({ mode: row.mode, nodes: row.nodes, cores, oneWayMs: loopback.oneWayMs, work }), cores, chunkSize: env.chunkSize, work }
}

// an interrupted run stops the row's processes first (a consensus row's nodes run detached)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    say(`${signal}: stopping the running row's processes`)
    Promise.allSettled([...cleanups].map(async (stop) => { await stop() })).then(() => { process.exit(130) }, () => { process.exit(130) })
  })
}

/** Where a row that falls short keeps its processes' logs. */
const LOGS = join(tmpdir(), `ephemera-bench-logs-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}`)
const results = []
for (const [i, row] of opts.rows.entries()) {
  const label = `[${i + 1}/${opts.rows.length}] ${describeRow(row)}`
  say(`${label}: measuring the floor model's work`)
  let floor
  try {
    floor = await floorOf(row)
    say(`${label}: floor ${ms(floor.floorMs)} ms (work ${ms(floor.spreadMs)} on ${floor.parallelism} core(s), synced writes ${ms(floor.syncMs)}, ${floor.hops} hops ${ms(floor.hopsMs)})`)
  } catch (err) {
    say(`${label}: the floor could not be measured: ${err.message}`)
  }
  const progress = (line) => { say(`${label}: ${line}`) }
  const measured = row.mode === 'standalone' ? await standaloneRow(row, progress, LOGS) : await consensusRow(row, progress, LOGS)
  const result = { ...row, ...measured, floor: floor ?? null }
  if (floor != null && measured.environment != null && measured.environment.chunkSize !== floor.chunkSize) {
    say(`${label}: the coordinator's chunks are of ${measured.environment.chunkSize} mixnodes, the floor assumed ${floor.chunkSize}: its figure is off`)
  }
  results.push(result)
  const note = rowNote(result)
  say(`${label}: ${result.latencyMs != null ? `${result.committed}/${result.epochs} committed, p50 ${ms(result.latencyMs.p50)} ms, p95 ${ms(result.latencyMs.p95)} ms` : 'no commit measured'}${note !== '' ? ` — ${note}` : ''}`)
  // what is done so far is kept if a later row is interrupted
  await writeFile(opts.out, JSON.stringify({ meta, loopback, options: opts, results }, null, 2) + '\n')
}

process.stdout.write(`\n${resultsTable(results)}\n\n`)
await mkdir(opts.docs, { recursive: true })
await writeFile(join(opts.docs, 'BENCHMARK.md'), benchmarkMarkdown({ meta, loopback, results }))
await writeFile(join(opts.docs, 'bench-latency.svg'), latencySvg(results))
say(`wrote ${opts.out}, ${join(opts.docs, 'BENCHMARK.md')} and ${join(opts.docs, 'bench-latency.svg')}`)
if (opts.readme) {
  const readme = join(ROOT, 'README.md')
  try {
    await writeFile(readme, replaceBetween(await readFile(readme, 'utf8'), README_START, README_END, `Run of ${meta.date} (commit ${meta.commit}, ${cores} cores, load average ${meta.loadavg.join(' ')} at the start; ${meta.plan}):\n\n${resultsTable(results)}`))
    say('refreshed the table in README.md "Benchmark"')
  } catch (err) {
    say(`README.md not refreshed: ${err.message}`)
  }
}
