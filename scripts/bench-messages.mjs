#!/usr/bin/env node
// Throughput of the messages application (README "Benchmark"): client messages per second
// certified and delivered on every node of an N-node cluster at an offered rate, the CPU per
// message, and submit → delivered latency at half that rate. Uses the built dist/.
//
//   node scripts/bench-messages.mjs [--nodes 4] [--rate 2000] [--seconds 20] [--out bench-messages.json]
import { writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { messagesRow } from './bench/messages-row.mjs'

const USAGE = 'usage: node scripts/bench-messages.mjs [--nodes 4] [--rate 2000] [--seconds 20] [--out bench-messages.json]'
let values
try {
  ({ values } = parseArgs({ args: process.argv.slice(2), strict: true, options: { nodes: { type: 'string', default: '4' }, rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '20' }, out: { type: 'string', default: 'bench-messages.json' }, help: { type: 'boolean', default: false } } }))
} catch (err) {
  process.stderr.write(`error: ${err.message}\n${USAGE}\n`)
  process.exit(2)
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const int = (text, what, min, max) => {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    process.stderr.write(`error: --${what} must be an integer from ${min} to ${max}, got "${text}"\n`)
    process.exit(2)
  }
  return n
}
const row = { nodes: int(values.nodes, 'nodes', 1, 50), rate: int(values.rate, 'rate', 1, 20_000), seconds: int(values.seconds, 'seconds', 3, 600) }
const t0 = Date.now()
const say = (line) => { process.stdout.write(`[${Math.round((Date.now() - t0) / 1000)} s] ${line}\n`) }
const meta = { date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', cores: availableParallelism(), loadavg: loadavg().map((l) => l.toFixed(2)) }
say(`messages throughput: ${row.nodes} nodes, ${row.rate} messages/s offered for ${row.seconds} s; ${meta.cores} cores, load ${meta.loadavg.join(' ')}`)
const result = await messagesRow(row, say)
await writeFile(values.out, JSON.stringify({ meta, row, result }, null, 2) + '\n')
if (result.status !== 'ok') {
  say(`failed: ${result.reason}`)
  process.exit(1)
}
say(`wrote ${values.out}`)
