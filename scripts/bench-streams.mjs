#!/usr/bin/env node
// Request/response exchanges between two libp2p hosts in this process, over loopback TCP with
// Noise and yamux: a new stream per exchange (how every RBC batch, fetch and sync request travelled
// before) against a stream kept open between exchanges (src/network/stream-pool.ts). Prints the
// round trip and the CPU both hosts spent per exchange. Uses the built code (npm run bench builds).
//
//   node scripts/bench-streams.mjs [--exchanges 1000] [--bytes 400]
import '../dist/src/polyfills.js'
import { multiaddr } from '@multiformats/multiaddr'
import { NodeKey } from '../dist/src/crypto/keys.js'
import { createNodeLibp2p } from '../dist/src/network/libp2p.js'
import { request, serve } from '../dist/src/network/reqresp.js'
import { StreamPool } from '../dist/src/network/stream-pool.js'

const argv = process.argv.slice(2)
const option = (name, fallback) => { const i = argv.indexOf(name); return i < 0 ? fallback : Number(argv[i + 1]) }
const exchanges = option('--exchanges', 1000)
const bytes = option('--bytes', 400)

async function host (seed) {
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(seed))
  const libp2p = await createNodeLibp2p({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses: [], gossipHeartbeatMs: 1000 })
  await libp2p.start()
  return { libp2p, key }
}

const a = await host(1)
const b = await host(2)
const protocol = '/ephemera/bench-streams/1.0.0'
await serve(b.libp2p, protocol, { maxRequestBytes: 1 << 20, timeoutMs: 5000 }, async () => Uint8Array.of(1, 2, 3))
await a.libp2p.dial(multiaddr(b.libp2p.getMultiaddrs()[0].toString()))
const payload = new Uint8Array(bytes)
const results = {}
for (const mode of ['new stream per exchange', 'stream kept open']) {
  const pool = mode === 'stream kept open' ? new StreamPool() : undefined
  const once = async () => await request(a.libp2p, b.key.publicKey, protocol, payload, { signal: AbortSignal.timeout(5000), maxResponseBytes: 1 << 20, pool })
  for (let i = 0; i < 100; i++) await once() // warm-up
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < exchanges; i++) await once()
  const ms = (performance.now() - t0) / exchanges
  const cpu = process.cpuUsage(cpu0)
  results[mode] = { roundTripMs: ms, cpuMs: (cpu.user + cpu.system) / 1000 / exchanges }
  console.log(`${mode.padEnd(24)} round trip ${ms.toFixed(3)} ms, CPU (both hosts) ${results[mode].cpuMs.toFixed(3)} ms per exchange (${exchanges} exchanges of ${bytes} bytes)`)
}
await a.libp2p.stop()
await b.libp2p.stop()
