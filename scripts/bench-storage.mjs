#!/usr/bin/env node
// Benchmark: what a synced write costs on this machine, through the project's Database (the
// fail-stop, serialised write path in src/storage/database.ts) on the built dist/.
//
//   node scripts/bench-storage.mjs [--writes 3000] [--value-bytes 256] [--batch 8] [--dir DIR] [--out FILE]
//
// Measures, in a fresh level database under DIR (default: the OS temp dir; it is removed after):
//   - put, unsynced and synced (fsync before it resolves);
//   - a synced atomic batch of --batch puts (a block delivery is one such batch);
//   - a synced put right after N unsynced ones (N = 10, 100): the fsync then flushes them too;
//   - the same puts on a plain classic-level sublevel (no wrapper), and 8 concurrent writers both
//     ways, to show what the fail-stop wrapper and serialising the writes cost; and 8 concurrent
//     writers of atomic write()s, which the wrapper groups into shared synced batches.
// Prints p50 / p95 / max latency per write and writes/s; with --out, the raw figures as JSON.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { Level } from 'level'

const { Database, Bucket } = await import(new URL('../dist/src/storage/index.js', import.meta.url).href).catch((err) => {
  process.stderr.write(`error: cannot load dist/src/storage/index.js (run npm run build first): ${err.message}\n`)
  process.exit(1)
})

function args () {
  const out = { writes: 3000, valueBytes: 256, batch: 8, dir: tmpdir(), out: undefined }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]]
    if (value == null) throw new Error(`${flag} needs a value`)
    if (flag === '--writes') out.writes = Number(value)
    else if (flag === '--value-bytes') out.valueBytes = Number(value)
    else if (flag === '--batch') out.batch = Number(value)
    else if (flag === '--dir') out.dir = value
    else if (flag === '--out') out.out = value
    else throw new Error(`unknown flag ${flag} (see the header of scripts/bench-storage.mjs)`)
  }
  if (!(out.writes >= 10) || !(out.valueBytes >= 1) || !(out.batch >= 1)) throw new Error('--writes ≥ 10, --value-bytes ≥ 1 and --batch ≥ 1')
  return out
}

function pct (sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

function stats (name, latenciesMs, totalMs, writes) {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  return { name, samples: sorted.length, p50: pct(sorted, 50), p95: pct(sorted, 95), max: sorted.at(-1), writesPerSecond: Math.round(writes / (totalMs / 1000)) }
}

/** Times `count` sequential calls of `one(i)`. */
async function sequential (name, count, one, writesPerCall = 1) {
  const latencies = []
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    await one(i)
    latencies.push(performance.now() - t)
  }
  return stats(name, latencies, performance.now() - start, count * writesPerCall)
}

/** `count` calls of `one` by 8 concurrent writers; latency per call. */
async function concurrent (name, count, one) {
  const latencies = []
  const start = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      next++
      const t = performance.now()
      await one()
      latencies.push(performance.now() - t)
    }
  }))
  return stats(name, latencies, performance.now() - start, latencies.length)
}

const opts = args()
const value = () => new Uint8Array(randomBytes(opts.valueBytes))
const root = await mkdtemp(join(opts.dir, 'ephemera-bench-storage-'))
const results = []
try {
  const db = await Database.open(join(root, 'wrapped'))
  const bucket = db.bucket(Bucket.meta)
  const n = opts.writes
  let k = 0
  const key = () => `k${String(k++).padStart(10, '0')}`
  // warm-up: open files, first memtable allocation
  for (let i = 0; i < 200; i++) await bucket.put(key(), value())

  results.push(await sequential('put, unsynced', n, async () => { await bucket.put(key(), value()) }))
  results.push(await sequential('put, sync', n, async () => { await bucket.put(key(), value(), { sync: true }) }))
  results.push(await sequential(`batch of ${opts.batch} puts, sync`, Math.ceil(n / opts.batch), async () => {
    await db.write(Array.from({ length: opts.batch }, () => ({ type: 'put', bucket: Bucket.meta, key: key(), value: value() })), { sync: true })
  }, opts.batch))
  for (const unsynced of [10, 100]) {
    const rounds = Math.max(10, Math.floor(n / unsynced))
    const latencies = []
    const start = performance.now()
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < unsynced; i++) await bucket.put(key(), value())
      const t = performance.now()
      await bucket.put(key(), value(), { sync: true })
      latencies.push(performance.now() - t)
    }
    results.push(stats(`sync put after ${unsynced} unsynced`, latencies, performance.now() - start, rounds * (unsynced + 1)))
  }
  // serialisation: 8 writers at once through the wrapper (each write waits for the one before)
  results.push(await concurrent('put, unsynced, 8 concurrent writers', n, async () => { await bucket.put(key(), value()) }))
  results.push(await concurrent('put, sync, 8 concurrent writers', n, async () => { await bucket.put(key(), value(), { sync: true }) }))
  results.push(await concurrent('write(), sync, 8 concurrent writers (group commit)', n, async () => { await db.write([{ type: 'put', bucket: Bucket.meta, key: key(), value: value() }], { sync: true }) }))
  await db.close()

  // the same puts on a classic-level sublevel directly (no fail-stop wrapper, no serialisation)
  const rawDb = new Level(join(root, 'raw'), { valueEncoding: 'view' })
  await rawDb.open()
  const raw = rawDb.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: 'view' })
  for (let i = 0; i < 200; i++) await raw.put(key(), value())
  results.push(await sequential('raw classic-level put, unsynced', n, async () => { await raw.put(key(), value()) }))
  results.push(await sequential('raw classic-level put, sync', n, async () => { await raw.put(key(), value(), { sync: true }) }))
  results.push(await concurrent('raw classic-level put, sync, 8 concurrent', n, async () => { await raw.put(key(), value(), { sync: true }) }))
  await rawDb.close()
} finally {
  await rm(root, { recursive: true, force: true })
}

const fmt = (ms) => ms < 1 ? ms.toFixed(3) : ms.toFixed(2)
const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', loadavg: loadavg().map((l) => l.toFixed(2)), dir: opts.dir, node: process.version }
process.stdout.write(`storage benchmark: ${opts.writes} writes of ${opts.valueBytes} B in ${opts.dir}; ${machine.cpus} × ${machine.cpu}; load ${machine.loadavg.join(' ')}\n`)
const rows = [['write', 'samples', 'p50 ms', 'p95 ms', 'max ms', 'writes/s'], ...results.map((r) => [r.name, String(r.samples), fmt(r.p50), fmt(r.p95), fmt(r.max), String(r.writesPerSecond)])]
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
for (const row of rows) process.stdout.write(row.map((cell, c) => c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join('  ') + '\n')
if (opts.out != null) await writeFile(opts.out, JSON.stringify({ machine, opts, results }, null, 2) + '\n')
