#!/usr/bin/env node
// Benchmark: epoch-end → coordinator-commit latency, RBC messages and bytes per epoch, CPU and
// RSS per node, for N nodes as separate processes on this machine; against the standalone
// (no-consensus) baseline and a floor model. Uses the built CLI (npm run bench builds first).
//
//   node scripts/bench.mjs [--nodes 4,7] [--epochs 8] [--mixnodes 1000] [--epoch-seconds 2] [--out FILE]
//
// Prints a table and writes the raw figures as JSON (default: bench-results.json).
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const CLI = fileURLToPath(new URL('../dist/bin/ephemera.js', import.meta.url))

function args () {
  const out = { nodes: [4, 7], epochs: 8, mixnodes: 1000, epochSeconds: 2, out: 'bench-results.json' }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]]
    if (value == null) throw new Error(`${flag} needs a value`)
    if (flag === '--nodes') out.nodes = value.split(',').map(Number)
    else if (flag === '--epochs') out.epochs = Number(value)
    else if (flag === '--mixnodes') out.mixnodes = Number(value)
    else if (flag === '--epoch-seconds') out.epochSeconds = Number(value)
    else if (flag === '--out') out.out = value
    else throw new Error(`unknown flag ${flag} (see the header of scripts/bench.mjs)`)
  }
  return out
}

async function freeBase (count) {
  const free = (port) => new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000)
    let ok = true
    for (let p = base; p < base + count && ok; p++) ok = await free(p)
    if (ok) return base
  }
}

async function json (url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return await res.json()
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const CLK_TCK = 100

/** CPU seconds (user+system) and RSS (MiB) of a process, from /proc. */
async function usage (pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
  return { cpu, rss }
}

function pct (values, p) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** Waits until `count` epochs after `after` are committed; returns their records. */
async function epochsAfter (contract, after, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const list = await json(`${contract}/contract/epochs?limit=200`)
    const done = list.epochs.filter((e) => e.status === 'committed' && e.epoch > after)
    const ended = list.epochs.filter((e) => e.status !== 'open' && e.epoch > after)
    if (ended.length >= count) return { committed: done.slice(0, count), ended: ended.slice(0, count) }
    if (Date.now() > deadline) throw new Error(`only ${done.length} of ${count} epochs committed in time`)
    await sleep(500)
  }
}

async function consensusRun (n, opts) {
  const dir = await mkdtemp(join(tmpdir(), `ephemera-bench-${n}-`))
  try {
    const base = await freeBase(2 * n + 2)
    await run(process.execPath, [CLI, 'init', '--nodes', String(n), '--out', dir, '--base-port', String(base), '--environment', 'testing', '--epoch-seconds', String(opts.epochSeconds), '--mixnodes', String(opts.mixnodes)])
    await run(process.execPath, [CLI, 'cluster', 'up', '--dir', dir, '--detach', '--timeout', '120'], { env: { ...process.env, LOG_LEVEL: 'warn' } })
    const cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8'))
    const contract = cluster.coordinator.httpUrl
    // warm up one epoch, then measure
    const start = (await json(`${contract}/contract/epochs?limit=1`)).currentEpoch
    await epochsAfter(contract, start, 1, 60_000)
    const from = (await json(`${contract}/contract/epochs?limit=1`)).currentEpoch - 1
    const before = await Promise.all(cluster.nodes.map(async (node) => ({ status: await json(`${node.httpUrl}/ephemera/broadcast/status`), usage: await usage(node.pid) })))
    const t0 = Date.now()
    const { committed, ended } = await epochsAfter(contract, from, opts.epochs, opts.epochs * opts.epochSeconds * 1000 * 4 + 30_000)
    const seconds = (Date.now() - t0) / 1000
    const after = await Promise.all(cluster.nodes.map(async (node) => ({ status: await json(`${node.httpUrl}/ephemera/broadcast/status`), usage: await usage(node.pid) })))
    const epochsMeasured = seconds / opts.epochSeconds
    const messages = after.reduce((sum, a, i) => sum + a.status.transport.sent - before[i].status.transport.sent, 0) / epochsMeasured
    const bytes = after.reduce((sum, a, i) => sum + a.status.transport.bytesSent - before[i].status.transport.bytesSent, 0) / epochsMeasured
    const cpu = after.map((a, i) => (a.usage.cpu - before[i].usage.cpu) / seconds * 100)
    const rss = after.map((a) => a.usage.rss)
    const latencies = committed.map((e) => e.latencyMs)
    return {
      mode: 'consensus',
      nodes: n,
      epochsEnded: ended.length,
      epochsCommitted: committed.length,
      latencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), max: Math.max(...latencies) },
      rbcMessagesPerEpoch: Math.round(messages),
      rbcMessagesBudget: 4 * n * n,
      rbcKiBPerEpoch: Math.round(bytes / 1024),
      cpuPercentPerNode: { mean: Math.round(cpu.reduce((a, b) => a + b, 0) / cpu.length), max: Math.round(Math.max(...cpu)) },
      rssMiBPerNode: { mean: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length), max: Math.round(Math.max(...rss)) }
    }
  } finally {
    await run(process.execPath, [CLI, 'cluster', 'down', '--dir', dir]).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

async function standaloneRun (opts) {
  const dir = await mkdtemp(join(tmpdir(), 'ephemera-bench-standalone-'))
  const children = []
  try {
    const base = await freeBase(6)
    await run(process.execPath, [CLI, 'init', '--nodes', '1', '--out', dir, '--base-port', String(base), '--environment', 'testing', '--epoch-seconds', String(opts.epochSeconds), '--mixnodes', String(opts.mixnodes)])
    const env = { ...process.env, LOG_LEVEL: 'warn' }
    children.push(spawn(process.execPath, [CLI, 'contract', 'run', '--config', join(dir, 'coordinator', 'config.toml'), '--set', 'allow_standalone=true'], { env, stdio: 'ignore' }))
    children.push(spawn(process.execPath, [CLI, 'node', 'run', '--config', join(dir, 'node1', 'config.toml'), '--standalone'], { env, stdio: 'ignore' }))
    const contract = `http://127.0.0.1:${base}`
    for (let i = 0; ; i++) {
      try {
        await json(`${contract}/contract/health`)
        break
      } catch {
        if (i > 100) throw new Error('coordinator did not start')
        await sleep(200)
      }
    }
    const start = (await json(`${contract}/contract/epochs?limit=1`)).currentEpoch
    await epochsAfter(contract, start, 1, 60_000)
    const from = (await json(`${contract}/contract/epochs?limit=1`)).currentEpoch - 1
    const nodePid = children[1].pid
    const u0 = await usage(nodePid)
    const t0 = Date.now()
    const { committed, ended } = await epochsAfter(contract, from, opts.epochs, opts.epochs * opts.epochSeconds * 1000 * 4 + 30_000)
    const seconds = (Date.now() - t0) / 1000
    const u1 = await usage(nodePid)
    const latencies = committed.map((e) => e.latencyMs)
    return {
      mode: 'standalone',
      nodes: 1,
      epochsEnded: ended.length,
      epochsCommitted: committed.length,
      latencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), max: Math.max(...latencies) },
      rbcMessagesPerEpoch: 0,
      rbcMessagesBudget: 0,
      rbcKiBPerEpoch: 0,
      cpuPercentPerNode: { mean: Math.round((u1.cpu - u0.cpu) / seconds * 100), max: Math.round((u1.cpu - u0.cpu) / seconds * 100) },
      rssMiBPerNode: { mean: Math.round(u1.rss), max: Math.round(u1.rss) }
    }
  } finally {
    for (const child of children) child.kill('SIGTERM')
    await sleep(1_000)
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Floor model: the least work an epoch needs after its end, on this machine. Per node: one
 * report signature, verification of n reports and q READY signatures, the Merkle root; on the
 * critical path 5 one-way loopback hops (report gossip, PROPOSE, ECHO, READY, submit) and the
 * coordinator's verification of q signatures and n reports. Measured here, not assumed.
 */
async function floorModel (n, mixnodes) {
  const { NodeKey, verifySignature } = await import('../dist/src/crypto/keys.js')
  const key = NodeKey.generate()
  const rounds = 200
  // distinct messages: verifySignature caches successes, and the floor must not count on that
  const messages = Array.from({ length: rounds }, (_, i) => { const m = new Uint8Array(32 + mixnodes * 2); m[0] = i & 255; m[1] = i >> 8; return m })
  const t0 = process.hrtime.bigint()
  const sigs = messages.map((m) => key.sign(m))
  const signUs = Number(process.hrtime.bigint() - t0) / 1000 / rounds
  const t1 = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) verifySignature(key.publicKey, messages[i], sigs[i])
  const verifyUs = Number(process.hrtime.bigint() - t1) / 1000 / rounds
  const f = Math.floor((n - 1) / 3)
  const q = n - f
  const hopMs = 0.1 // one loopback TCP hop with noise+yamux, measured at 0.1–0.4 ms (shared/notes)
  const cryptoMs = (signUs * 2 + verifyUs * (n + q) * 2) / 1000
  return Math.round((5 * hopMs + cryptoMs) * 100) / 100
}

const opts = args()
console.log(`ephemera-ts benchmark: ${opts.epochs} epochs of ${opts.epochSeconds} s, ${opts.mixnodes} mixnodes, nodes ${opts.nodes.join(', ')} (processes on this machine)`)
const results = []
for (const n of opts.nodes) {
  process.stdout.write(`  consensus, ${n} nodes... `)
  const r = await consensusRun(n, opts)
  r.floorMs = await floorModel(n, opts.mixnodes)
  results.push(r)
  console.log('done')
}
process.stdout.write('  standalone baseline... ')
const baseline = await standaloneRun(opts)
baseline.floorMs = await floorModel(1, opts.mixnodes)
results.push(baseline)
console.log('done\n')

const rows = [['mode', 'nodes', 'committed', 'latency p50/p95/max ms', 'floor ms', 'RBC msgs/epoch (budget 4N²)', 'RBC KiB/epoch', 'CPU %/node mean/max', 'RSS MiB/node mean/max']]
for (const r of results) {
  rows.push([r.mode, String(r.nodes), `${r.epochsCommitted}/${r.epochsEnded}`, `${r.latencyMs.p50}/${r.latencyMs.p95}/${r.latencyMs.max}`, String(r.floorMs),
    r.mode === 'consensus' ? `${r.rbcMessagesPerEpoch} (${r.rbcMessagesBudget})` : '-', r.mode === 'consensus' ? String(r.rbcKiBPerEpoch) : '-',
    `${r.cpuPercentPerNode.mean}/${r.cpuPercentPerNode.max}`, `${r.rssMiBPerNode.mean}/${r.rssMiBPerNode.max}`])
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)))
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i])).join('  '))
await writeFile(opts.out, JSON.stringify({ date: new Date().toISOString(), node: process.version, options: opts, results }, null, 2) + '\n')
console.log(`\nraw figures: ${opts.out}`)
