#!/usr/bin/env node
// Soak: does a restart after a long history cost what it costs after a short one?
//
//   node scripts/soak.mjs [--nodes 4] [--baseline 100] [--rounds 2000] [--restarts 3] [--out FILE]
//
// Runs N node processes of a messages network (the built CLI; `npm run soak` builds first) and a
// load generator that signs client messages and submits them to every node, so each member keeps
// proposing blocks: one RBC round per block per creator. When every creator has proposed
// --baseline rounds, the whole cluster is stopped (SIGTERM) and started again, and the script
// measures: start-up time (as each node reports it: process start → serving, and each part:
// database, network, the broadcast engine with its RBC state, producer, HTTP; over --restarts
// whole-cluster restarts, medians),
// time until the full mesh is back, time until every creator's next block is certified on every
// node, and each node's RSS a few seconds later. Then the load runs on to --rounds rounds per
// creator and the same restart is measured again. It prints both and the ratios, writes the
// figures as JSON, and exits 1 if start-up time or RSS after the long history is more than 20 %
// above the baseline, or if a creator's next block is not certified.
import { spawn } from 'node:child_process'
import { openSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'dist/bin/ephemera.js')
const { NodeKey } = await import(join(ROOT, 'dist/src/crypto/keys.js'))
const { messageSigningBytes } = await import(join(ROOT, 'dist/src/block/encoding.js'))
const { toBase64, toHex } = await import(join(ROOT, 'dist/src/codec/bytes.js'))

function args () {
  const out = { nodes: 4, baseline: 100, rounds: 2000, restarts: 3, out: 'soak-results.json' }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]]
    if (flag === '--help' || flag === '-h') {
      console.log('usage: node scripts/soak.mjs [--nodes 4] [--baseline 100] [--rounds 2000] [--restarts 3] [--out soak-results.json]')
      process.exit(0)
    }
    if (value == null) throw new Error(`${flag} needs a value`)
    if (flag === '--nodes') out.nodes = Number(value)
    else if (flag === '--baseline') out.baseline = Number(value)
    else if (flag === '--rounds') out.rounds = Number(value)
    else if (flag === '--restarts') out.restarts = Math.max(1, Number(value))
    else if (flag === '--out') out.out = value
    else throw new Error(`unknown flag ${flag} (see the header of scripts/soak.mjs)`)
  }
  return out
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function freeBase (count) {
  const free = (port) => new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
  for (;;) {
    // below the ephemeral range (32768–60999), so outgoing connections cannot take these ports
    const base = 20_000 + Math.floor(Math.random() * 12_000)
    let ok = true
    for (let p = base; p < base + count && ok; p++) ok = await free(p)
    if (ok) return base
  }
}

async function json (url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) })
  return { status: res.status, body: await res.json().catch(() => undefined) }
}

async function until (what, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (err) {
      if (err.fatal === true) throw err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

async function rss (pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

class Cluster {
  constructor (dir, nodes, base) {
    this.dir = dir
    this.n = nodes
    this.base = base
    this.procs = []
  }

  url (i) { return `http://127.0.0.1:${this.base + 2 * i + 2}` }
  config (i) { return join(this.dir, `node${i + 1}`, 'config.toml') }

  async init () {
    await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'init', '--nodes', String(this.n), '--out', this.dir, '--app', 'messages', '--base-port', String(this.base)], { stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'silent' } })
      child.on('exit', (code) => code === 0 ? resolve() : reject(new Error(`init exited ${code}`)))
    })
  }

  /** Starts every node; returns each one's start-up time (spawn → HTTP answers). */
  async start () {
    const started = []
    this.procs = []
    for (let i = 0; i < this.n; i++) {
      const log = openSync(join(this.dir, `node${i + 1}.log`), 'a')
      const child = spawn(process.execPath, [CLI, 'node', 'run', '--config', this.config(i),
        '--set', 'broadcast.block_interval_ms=50', '--set', 'broadcast.designated_fallback_ms=2000', '--set', 'mempool.max_clock_skew_ms=600000'],
      { stdio: ['ignore', log, log], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } })
      this.procs.push(child)
      started.push(Date.now())
    }
    const times = await Promise.all(this.procs.map(async (child, i) => {
      await until(`node${i + 1} to answer`, 60_000, async () => {
        if (child.exitCode != null) throw Object.assign(new Error(`node${i + 1} exited with ${child.exitCode}; see ${join(this.dir, `node${i + 1}.log`)}`), { fatal: true })
        return (await json(`${this.url(i)}/ephemera/node/health`)).body?.pid === child.pid
      })
      return Date.now() - started[i]
    }))
    return times
  }

  async stop () {
    await Promise.all(this.procs.map(async (child) => {
      if (child.exitCode != null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }))
  }

  async status (i) {
    return (await json(`${this.url(i)}/ephemera/broadcast/status`)).body
  }

  async meshFormed () {
    for (let i = 0; i < this.n; i++) {
      const info = (await json(`${this.url(i)}/ephemera/broadcast/group/info`)).body
      if (info.members.filter((m) => !m.self && m.connected).length !== this.n - 1) return false
    }
    return true
  }
}

/** Submits signed messages to the nodes in turn, `concurrency` at a time, until stopped. */
function load (cluster) {
  const client = NodeKey.generate()
  let running = true
  let sent = 0
  let refused = 0
  const worker = async (w) => {
    for (let k = 0; running; k++) {
      const timestamp = Date.now()
      const data = new TextEncoder().encode(`soak ${w} ${k} ${timestamp}`)
      const signature = client.sign(messageSigningBytes({ timestamp, label: 'soak', data }))
      const body = JSON.stringify({ timestamp, label: 'soak', data: toBase64(data), publicKey: toHex(client.publicKey), signature: toHex(signature) })
      try {
        const res = await json(`${cluster.url((w + k) % cluster.n)}/ephemera/broadcast/submit_message`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        if (res.status === 200) sent++
        else refused++
        // a full mempool (429): let the blocks catch up
        if (res.status === 429) await sleep(50)
      } catch {
        refused++
        await sleep(50)
      }
    }
  }
  const workers = Array.from({ length: 8 }, (_, w) => worker(w))
  return { stop: async () => { running = false; await Promise.allSettled(workers) }, stats: () => ({ sent, refused }) }
}

async function roundsPerCreator (cluster) {
  const rounds = []
  for (let i = 0; i < cluster.n; i++) rounds.push((await cluster.status(i)).lastProposedRound)
  return rounds
}

/** Loads until every creator proposed at least `target` rounds; prints progress. */
async function runTo (cluster, target) {
  const generator = load(cluster)
  const t0 = Date.now()
  try {
    for (;;) {
      const rounds = await roundsPerCreator(cluster)
      process.stdout.write(`\r  rounds per creator: ${rounds.join(' ')} (target ${target}, ${Math.round((Date.now() - t0) / 1000)} s)   `)
      if (rounds.every((r) => r >= target)) break
      await sleep(1_000)
    }
  } finally {
    await generator.stop()
    process.stdout.write('\n')
  }
}

/** Whole-cluster restart; returns the figures. */
async function restartAndMeasure (cluster, label) {
  const before = await roundsPerCreator(cluster)
  await cluster.stop()
  const startup = await cluster.start()
  const t0 = Date.now()
  await until('the full mesh', 60_000, async () => await cluster.meshFormed())
  const meshMs = Date.now() - t0
  const afterRestart = await Promise.all(Array.from({ length: cluster.n }, async (_, i) => await cluster.status(i)))
  // every creator's next block certified and delivered on every node
  const generator = load(cluster)
  let nextBlockMs
  try {
    const peerIds = await Promise.all(Array.from({ length: cluster.n }, async (_, c) => (await json(`${cluster.url(c)}/ephemera/node/health`)).body.peerId))
    await until('every creator\'s next block delivered everywhere', 60_000, async () => {
      for (let viewer = 0; viewer < cluster.n; viewer++) {
        const blocks = (await json(`${cluster.url(viewer)}/ephemera/broadcast/blocks?limit=200`)).body.blocks
        for (let c = 0; c < cluster.n; c++) {
          if (!blocks.some((b) => b.creator === peerIds[c] && b.round > before[c])) return false
        }
      }
      return true
    })
    nextBlockMs = Date.now() - t0
  } finally {
    await generator.stop()
  }
  await sleep(5_000)
  const rssMiB = await Promise.all(cluster.procs.map(async (p) => await rss(p.pid)))
  // what each node reports: how long each part took to start (database, network, broadcast engine
  // with its state, producer, http) and the whole process (start → serving)
  const reported = await Promise.all(Array.from({ length: cluster.n }, async (_, i) => (await json(`${cluster.url(i)}/ephemera/node/health`)).body.startupMs))
  // one restart of N processes on a small machine is noisy: restart again, and take the medians
  for (let extra = 1; extra < opts.restarts; extra++) {
    await cluster.stop()
    await cluster.start()
    await until('the full mesh', 60_000, async () => await cluster.meshFormed())
    reported.push(...await Promise.all(Array.from({ length: cluster.n }, async (_, i) => (await json(`${cluster.url(i)}/ephemera/node/health`)).body.startupMs)))
  }
  const parts = Object.fromEntries(Object.keys(reported[0] ?? {}).map((part) => [part, median(reported.map((r) => r[part]))]))
  const figures = {
    label,
    roundsPerCreator: before,
    restarts: opts.restarts,
    spawnToHealthMs: startup,
    startupMs: reported.map((r) => r.process),
    startupMedianMs: median(reported.map((r) => r.process)),
    startupPartsMedianMs: parts,
    stateLoadMs: reported.map((r) => r.broadcast),
    meshMs,
    nextBlockMs,
    rssMiB: rssMiB.map((r) => Math.round(r)),
    rssMedianMiB: Math.round(median(rssMiB)),
    openInstancesAfterRestart: afterRestart.map((s) => s.openInstances),
    decidedAfterRestart: afterRestart.map((s) => s.machine?.decided)
  }
  console.log(`  ${label}: start-up over ${opts.restarts} restart(s) ${figures.startupMs.join('/')} ms (median ${figures.startupMedianMs}; median per part: ${Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', ')}), mesh ${meshMs} ms, next block of every creator everywhere after ${nextBlockMs} ms, RSS ${figures.rssMiB.join('/')} MiB (median ${figures.rssMedianMiB}), open instances ${figures.openInstancesAfterRestart.join('/')}, decided kept ${figures.decidedAfterRestart.join('/')}`)
  return figures
}

const opts = args()
const dir = await mkdtemp(join(tmpdir(), 'ephemera-soak-'))
const cluster = new Cluster(dir, opts.nodes, await freeBase(2 * opts.nodes + 2))
let exitCode = 0
try {
  await cluster.init()
  console.log(`soak: ${opts.nodes} nodes (messages app) in ${dir}; baseline ${opts.baseline} rounds per creator, then ${opts.rounds}`)
  await cluster.start()
  await until('the full mesh', 60_000, async () => await cluster.meshFormed())
  await runTo(cluster, opts.baseline)
  const short = await restartAndMeasure(cluster, `after ${opts.baseline} rounds`)
  await runTo(cluster, opts.rounds)
  const long = await restartAndMeasure(cluster, `after ${opts.rounds} rounds`)
  const startupRatio = long.startupMedianMs / short.startupMedianMs
  const rssRatio = long.rssMedianMiB / short.rssMedianMiB
  console.log(`ratios (long / short history): start-up ${startupRatio.toFixed(2)}, RSS ${rssRatio.toFixed(2)} (limit 1.20 each)`)
  await writeFile(opts.out, JSON.stringify({ nodes: opts.nodes, short, long, startupRatio, rssRatio, at: new Date().toISOString() }, null, 2) + '\n')
  if (startupRatio > 1.2 || rssRatio > 1.2) {
    console.log('FAIL: a restart after the long history costs more than 20 % over the short one')
    exitCode = 1
  }
} catch (err) {
  console.error(`soak failed: ${err.message}`)
  exitCode = 1
} finally {
  await cluster.stop()
  await rm(dir, { recursive: true, force: true })
}
process.exit(exitCode)
