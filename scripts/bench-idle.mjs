#!/usr/bin/env node
// The epoch's work after an idle pause (README "Benchmark", "Why 10 s epochs are slower"): the
// floor model's steps (scripts/bench/floor-measure.mjs, the real code paths from dist/) run back
// to back, then again with the process idle between repetitions as a node is between epochs but
// for the epoch's uptime samples, written over the pause at the sampler's interval. Prints each
// step's median both ways and the minor page faults of the process per repetition, then what one
// page fault costs on this machine. Uses the built dist/ (npm run build first). Run it with
// node's --max-semi-space-size=1 as the cluster's processes are; V8 flags go before the script.
import { parseArgs } from 'node:util'
import { measureWork } from './bench/floor-measure.mjs'

const USAGE = `usage: node scripts/bench-idle.mjs [--nodes 4] [--mixnodes 1000] [--pause 10] [--repetitions 4] [--idle] [--warm BYTES]

  --nodes N          committee size of the measured epoch (default 4)
  --mixnodes M       simulated mixnodes (default 1000)
  --pause S          seconds between repetitions in the second run (default 10, a 10 s epoch's idle time)
  --repetitions R    measured repetitions per run, after two warm-up ones (default 4)
  --idle             the process does nothing at all during the pause (the samples are written
                     before it), instead of writing a sample every sampling interval as a node does
  --warm BYTES       keep BYTES a second of young-generation allocation up meanwhile with
                     short-lived arrays, as a node's [heap] warm_bytes_per_second does
                     (default 0: off)
  --help`

let values
try {
  ({ values } = parseArgs({ options: { nodes: { type: 'string', default: '4' }, mixnodes: { type: 'string', default: '1000' }, pause: { type: 'string', default: '10' }, repetitions: { type: 'string', default: '4' }, warm: { type: 'string', default: '0' }, idle: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } }))
} catch (err) {
  process.stderr.write(`error: ${err.message}\n\n${USAGE}\n`)
  process.exit(2)
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const number = (name, min, max) => {
  const v = Number(values[name])
  if (!Number.isFinite(v) || v < min || v > max) {
    process.stderr.write(`error: --${name} must be a number from ${min} to ${max}, got ${values[name]}\n`)
    process.exit(2)
  }
  return v
}
const nodes = number('nodes', 4, 100)
const mixnodes = number('mixnodes', 1, 100_000)
const pauseMs = Math.round(number('pause', 0.1, 600) * 1000)
const repetitions = Math.round(number('repetitions', 1, 100))
const warmBytes = Math.round(number('warm', 0, 64 * 1024 * 1024))

const { environmentWithEpoch } = await import(new URL('../dist/src/epochs/environment.js', import.meta.url).href).catch((err) => {
  process.stderr.write(`error: cannot load dist/ (run npm run build first): ${err.message}\n`)
  process.exit(1)
})
const { HeapWarmth } = await import(new URL('../dist/src/util/heap-warmth.js', import.meta.url).href)
const warmth = new HeapWarmth({ bytesPerSecond: warmBytes })
const env = environmentWithEpoch('testing', 10_000)
const base = { mode: 'consensus', nodes, mixnodes, chunkSize: env.chunkSize, samples: Math.round(env.epochMs / env.sampleIntervalMs), epochMs: env.epochMs, verifiersPerChunk: env.verifiersPerChunk, repetitions }

/** The steps' medians, and the minor page faults per repetition. */
async function run (pause) {
  const before = process.resourceUsage().minorPageFault
  const work = await measureWork({ ...base, pauseMs: pause, idle: values.idle })
  return { work, faults: Math.round((process.resourceUsage().minorPageFault - before) / (repetitions + 2)) }
}

process.stdout.write(`N = ${nodes}, ${mixnodes} mixnodes, ${repetitions} repetitions (+2 warm-up): back to back, then ${pauseMs / 1000} s apart, ${values.idle ? 'doing nothing in between' : 'writing a sample every sampling interval'}${warmBytes > 0 ? `, heap warmth at ${warmBytes} bytes a second` : ''} (about ${Math.ceil((repetitions + 1) * pauseMs / 1000)} s)\n`)
warmth.start()
const hot = await run(0)
const cold = await run(pauseMs)
warmth.stop()
const rows = []
let [hotTotal, coldTotal] = [0, 0]
for (const group of Object.keys(hot.work)) {
  for (const [step, ms] of Object.entries(hot.work[group])) {
    const after = cold.work[group]?.[step] ?? NaN
    hotTotal += ms
    coldTotal += after
    rows.push(`| ${group} | ${step} | ${ms.toFixed(2)} | ${after.toFixed(2)} | ${(after / ms).toFixed(1)}× |`)
  }
}
process.stdout.write(`| group | step | back to back, ms | after ${pauseMs / 1000} s, ms | ratio |\n| --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`)
process.stdout.write(`| | all steps | ${hotTotal.toFixed(1)} | ${coldTotal.toFixed(1)} | ${(coldTotal / hotTotal).toFixed(1)}× |\n`)
process.stdout.write(`minor page faults per repetition: ${hot.faults} back to back, ${cold.faults} after ${pauseMs / 1000} s\n`)

/**
 * What one page fault costs here: fresh zeroed memory touched once per 4 KiB page, each touch a
 * minor fault that maps a new page (about 0.1-1 µs on bare metal; far more in some VMs).
 */
function faultMicros () {
  const costs = []
  for (let i = 0; i < 5; i++) {
    const faults = process.resourceUsage().minorPageFault
    const start = performance.now()
    const bytes = new Uint8Array(new ArrayBuffer(32 * 1024 * 1024))
    for (let at = 0; at < bytes.length; at += 4096) bytes[at] = 1
    const took = performance.now() - start
    costs.push((took * 1000) / Math.max(1, process.resourceUsage().minorPageFault - faults))
  }
  return costs.sort((a, b) => a - b)[2]
}
process.stdout.write(`one minor page fault (fresh memory, 4 KiB pages): ${faultMicros().toFixed(2)} µs (median of 5 × 32 MiB)\n`)
