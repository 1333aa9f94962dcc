// The loopback one-way latency between two Node processes on this machine, for the bench's floor
// model: a TCP ping-pong (64-byte messages, Nagle off) between this process and a child that
// echoes; one-way = the median round trip / 2.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection } from 'node:net'
import { performance } from 'node:perf_hooks'
import { percentile } from './judge.mjs'

const ECHO_SERVER = `
const server = require('node:net').createServer({ noDelay: true }, (c) => { c.on('data', (d) => c.write(d)); c.on('error', () => {}) })
server.listen(0, '127.0.0.1', () => { process.stdout.write(server.address().port + '\\n') })
process.on('disconnect', () => process.exit(0))
`

const MESSAGE_BYTES = 64

async function portOf (child) {
  let text = ''
  for await (const chunk of child.stdout) {
    text += chunk
    if (text.includes('\n')) return Number(text.trim())
  }
  throw new Error('the echo process exited before it listened')
}

/** Median, p95 round trip and the one-way latency (ms) over `roundTrips` ping-pongs after `warmup`. */
export async function loopbackLatency ({ roundTrips = 2000, warmup = 200, timeoutMs = 60_000 } = {}) {
  const child = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const killer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  try {
    const port = await portOf(child)
    const socket = createConnection({ host: '127.0.0.1', port, noDelay: true })
    await once(socket, 'connect')
    const message = Buffer.alloc(MESSAGE_BYTES, 7)
    let pending = 0
    let wake = () => {}
    socket.on('data', (d) => {
      pending -= d.length
      if (pending <= 0) wake()
    })
    const rtts = []
    for (let i = 0; i < warmup + roundTrips; i++) {
      const back = new Promise((resolve) => { wake = resolve })
      pending = MESSAGE_BYTES
      const t = performance.now()
      socket.write(message)
      await back
      if (i >= warmup) rtts.push(performance.now() - t)
    }
    socket.destroy()
    const p50 = percentile(rtts, 50)
    return { oneWayMs: Math.round((p50 / 2) * 1000) / 1000, roundTripP50Ms: Math.round(p50 * 1000) / 1000, roundTripP95Ms: Math.round(percentile(rtts, 95) * 1000) / 1000, roundTrips, messageBytes: MESSAGE_BYTES }
  } finally {
    clearTimeout(killer)
    if (child.exitCode == null && child.signalCode == null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }
}
