// The messages application's throughput (README "Benchmark", issue 11 item 6): a cluster of N
// nodes with app = messages (`init --app messages` + `cluster up --detach`), and in this process a
// load generator that signs client messages ahead and submits them over HTTP to the nodes in
// turn, at an offered rate. Each node's block stream (WS /ephemera/broadcast/ws) says when it
// delivered each message. Two phases:
//   1. throughput: `rate × seconds` messages offered at `rate` (the nodes may take them slower,
//      or faster than they certify them); the rate of messages delivered on EVERY node from the
//      end of a warm-up third of the offering to the last delivery, and the CPU each node spent
//      per delivered message;
//   2. latency: half that rate for `seconds`; submit → delivered on every node, p50 and p95.
// The generator shares the machine's cores with the nodes (its CPU is reported too).
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { percentile } from './judge.mjs'
import { sleep, usage } from './measure-epochs.mjs'
import { cli, failure } from './rows.mjs'
import { freePortBlock } from '../../dist/src/cluster/ports.js'

const { NodeKey } = await import('../../dist/src/crypto/keys.js')
const { messageSigningBytes } = await import('../../dist/src/block/encoding.js')
const { toBase64, toHex } = await import('../../dist/src/codec/bytes.js')

/** Messages signed ahead, so that signing does not pace the submissions. */
function signedBodies (count, tag) {
  const client = NodeKey.generate()
  const publicKey = toHex(client.publicKey)
  const bodies = []
  for (let k = 0; k < count; k++) {
    const timestamp = Date.now()
    const data = new TextEncoder().encode(`bench ${tag} ${k} ${timestamp}`)
    const signature = client.sign(messageSigningBytes({ timestamp, label: 'bench', data }))
    bodies.push(JSON.stringify({ timestamp, label: 'bench', data: toBase64(data), publicKey, signature: toHex(signature) }))
  }
  return bodies
}

/** Per message id: when it was submitted, and when each node delivered it. */
class Tracker {
  constructor (nodes) {
    this.nodes = nodes
    this.submitted = new Map()
    this.seenBy = new Map()
    this.allAt = new Map()
  }

  delivered (node, id, at) {
    const seen = this.seenBy.get(id) ?? new Set()
    seen.add(node)
    this.seenBy.set(id, seen)
    if (seen.size === this.nodes) this.allAt.set(id, at)
  }
}

function watch (nodes, tracker) {
  return nodes.map((node, i) => {
    const ws = new WebSocket(`${node.httpUrl.replace(/^http/, 'ws')}/ephemera/broadcast/ws?types=block`, { maxPayload: 64 * 1024 * 1024 })
    ws.on('message', (raw) => {
      const at = Date.now()
      const frame = JSON.parse(raw.toString())
      if (frame.type !== 'block') return
      for (const m of frame.block.messages) tracker.delivered(i, m.id, at)
    })
    ws.on('error', () => {})
    return ws
  })
}

/**
 * One submission over a kept-alive connection (node:http: a fraction of fetch's CPU, which would
 * otherwise take cores from the nodes): resolves with the status and the answer's id.
 */
function post (agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (d) => { text += d }).on('end', () => {
        let id
        try { id = JSON.parse(text).id } catch {}
        resolve({ status: res.statusCode, id })
      }).on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error('timed out')) }).on('error', reject)
    req.end(body)
  })
}

/** Submits `bodies` at `rate` per second (at most 256 waiting), round robin over the nodes. */
async function offer (nodes, bodies, rate, tracker) {
  const counts = { accepted: 0, refused: 0, failed: 0, firstFailure: undefined }
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const urls = nodes.map((node) => new URL('/ephemera/broadcast/submit_message', node.httpUrl))
  const t0 = Date.now()
  let inFlight = 0
  let slot
  let all
  const finished = () => {
    inFlight--
    slot?.()
    if (inFlight === 0) all?.()
  }
  try {
    for (let k = 0; k < bodies.length; k++) {
      const due = t0 + (k * 1000) / rate
      if (due > Date.now()) await sleep(due - Date.now())
      while (inFlight >= 256) await new Promise((resolve) => { slot = resolve })
      inFlight++
      const at = Date.now()
      post(agent, urls[k % urls.length], bodies[k]).then((res) => {
        if (res.status === 200) {
          counts.accepted++
          tracker.submitted.set(res.id, at)
        } else counts.refused++
      }, (err) => {
        counts.failed++
        counts.firstFailure ??= err.message
      }).finally(finished)
    }
    if (inFlight > 0) await new Promise((resolve) => { all = resolve })
  } finally {
    agent.destroy()
  }
  return { ...counts, seconds: (Date.now() - t0) / 1000 }
}

async function cpuOf (pids) {
  return await Promise.all(pids.map(async (pid) => (await usage(pid))?.cpu ?? null))
}

export async function messagesRow (row, progress) {
  const dir = await mkdtemp(join(tmpdir(), `ephemera-bench-messages-${row.nodes}-`))
  const result = { status: 'ok' }
  let up = false
  const sockets = []
  try {
    const base = await freePortBlock(2 * row.nodes + 3)
    const init = await cli(['init', '--nodes', String(row.nodes), '--out', dir, '--base-port', String(base), '--app', 'messages'], { timeoutMs: 120_000 })
    if (init.code !== 0) return Object.assign(result, { status: 'no-start', reason: `init ${failure(init)}` })
    up = true
    const started = await cli(['cluster', 'up', '--dir', dir, '--detach'], { timeoutMs: 180_000 })
    if (started.code !== 0) return Object.assign(result, { status: 'no-mesh', reason: `cluster up ${failure(started)}` })
    const cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8'))
    const nodes = cluster.nodes
    progress(`${nodes.length} messages nodes up; signing ${row.rate * row.seconds} messages ahead`)
    const tracker = new Tracker(nodes.length)
    sockets.push(...watch(nodes, tracker))
    await Promise.all(sockets.map(async (ws) => { await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) }) }))

    // 1. throughput at the offered rate
    const bodies = signedBodies(row.rate * row.seconds, 'load')
    const cpu0 = await cpuOf(nodes.map((n) => n.pid))
    const self0 = process.cpuUsage()
    const t0 = Date.now()
    progress(`offering ${row.rate} messages/s for ${row.seconds} s`)
    const offered = await offer(nodes, bodies, row.rate, tracker)
    // the nodes may take the submissions faster than they certify them: what they accepted is
    // certified from their mempools until every message is delivered everywhere (or nothing more
    // arrives for 10 s)
    const end = Date.now()
    let last = { count: tracker.allAt.size, at: Date.now() }
    while (tracker.allAt.size < tracker.submitted.size && Date.now() - last.at < 10_000) {
      await sleep(200)
      if (tracker.allAt.size > last.count) last = { count: tracker.allAt.size, at: Date.now() }
    }
    const t1 = Date.now()
    const cpu1 = await cpuOf(nodes.map((n) => n.pid))
    const self1 = process.cpuUsage(self0)
    // the rate from the end of a warm-up third of the offering to the last delivery
    const warm = t0 + (end - t0) / 3
    const after = [...tracker.allAt.values()].filter((at) => at >= warm)
    const lastAt = Math.max(end, ...after)
    const throughput = after.length / ((lastAt - warm) / 1000)
    const delivered = tracker.allAt.size
    const cpuSeconds = cpu0.map((c, i) => c == null || cpu1[i] == null ? null : cpu1[i] - c).filter((x) => x != null)
    result.throughput = {
      offeredPerSecond: row.rate,
      acceptedPerSecond: Math.round(offered.accepted / offered.seconds),
      offerSeconds: Math.round(offered.seconds),
      accepted: offered.accepted,
      refused: offered.refused,
      failed: offered.failed,
      ...(offered.firstFailure != null ? { firstFailure: offered.firstFailure } : {}),
      deliveredEverywhere: delivered,
      perSecond: Math.round(throughput),
      cpuPercentPerNode: Math.round(cpuSeconds.reduce((a, b) => a + b, 0) / cpuSeconds.length / ((t1 - t0) / 1000) * 100),
      cpuMsPerMessagePerNode: delivered === 0 ? null : Math.round(cpuSeconds.reduce((a, b) => a + b, 0) / cpuSeconds.length / delivered * 1000 * 100) / 100,
      generatorCpuPercent: Math.round((self1.user + self1.system) / 1000 / (t1 - t0) * 100)
    }
    progress(`throughput: ${result.throughput.perSecond} messages/s delivered on every node (${delivered} of ${offered.accepted} accepted in ${result.throughput.offerSeconds} s, ${result.throughput.acceptedPerSecond}/s; ${offered.refused} refused, ${offered.failed} failed${offered.firstFailure != null ? `: ${offered.firstFailure}` : ''}); ${result.throughput.cpuPercentPerNode} % CPU per node, ${result.throughput.cpuMsPerMessagePerNode} ms per message per node; generator ${result.throughput.generatorCpuPercent} %`)

    // 2. latency at half the throughput
    await sleep(3_000)
    const half = Math.max(5, Math.floor(throughput / 2))
    const tracker2 = new Tracker(nodes.length)
    sockets.forEach((ws) => ws.terminate())
    sockets.length = 0
    sockets.push(...watch(nodes, tracker2))
    await Promise.all(sockets.map(async (ws) => { await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) }) }))
    progress(`latency at ${half} messages/s for ${row.seconds} s`)
    const second = await offer(nodes, signedBodies(half * row.seconds, 'latency'), half, tracker2)
    const settle2 = Date.now() + 10_000
    while (Date.now() < settle2 && [...tracker2.submitted.keys()].some((id) => !tracker2.allAt.has(id))) await sleep(200)
    const latencies = [...tracker2.submitted].filter(([id]) => tracker2.allAt.has(id)).map(([id, at]) => tracker2.allAt.get(id) - at)
    result.latency = {
      ratePerSecond: half,
      accepted: second.accepted,
      delivered: latencies.length,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95)
    }
    progress(`latency at ${half}/s: p50 ${result.latency.p50Ms} ms, p95 ${result.latency.p95Ms} ms (${latencies.length} of ${second.accepted} delivered everywhere)`)
  } catch (err) {
    Object.assign(result, { status: 'error', reason: err.message })
  } finally {
    sockets.forEach((ws) => ws.terminate())
    if (up) {
      const down = await cli(['cluster', 'down', '--dir', dir], { timeoutMs: 120_000 })
      if (down.code !== 0) progress(`cluster down ${failure(down)}`)
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
  return result
}
