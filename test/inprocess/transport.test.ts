import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { RbcTransport, type InboundItem, type TransportHandlers } from '../../src/broadcast/transport.js'
import { BlockFetcher } from '../../src/broadcast/fetcher.js'
import type { NodeKey } from '../../src/crypto/keys.js'
import { captureLogger, engineOptions } from '../helpers/engine-cluster.js'
import { waitFor } from '../helpers/env.js'
import { MemoryNetwork } from '../helpers/memory-network.js'
import { makeBlock, testKeys } from '../helpers/rbc-fixtures.js'
import { blockHash } from '../../src/block/encoding.js'

/** The RBC transport and block fetcher over an in-memory network. */

const keys = testKeys(2)
const [a, b] = keys as [NodeKey, NodeKey]
const quiet = pino({ level: 'silent' })
const stops: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

function handlers (onMessages: TransportHandlers['onMessages']): TransportHandlers {
  return {
    onMessages,
    onFetch: async () => undefined,
    onSyncList: async () => ({ lastHeight: 0, entries: [] }),
    onCertified: async () => undefined
  }
}

async function pair (receive: (items: InboundItem[]) => number[]): Promise<{ net: MemoryNetwork, sender: RbcTransport, received: InboundItem[][] }> {
  const net = new MemoryNetwork()
  const opts = { ...engineOptions().transport, retransmitInitialMs: 100, retransmitMaxMs: 2_000 }
  const sender = new RbcTransport(opts, { network: net.join(a.publicKey), peers: [b.publicKey], logger: quiet })
  const receiver = new RbcTransport(opts, { network: net.join(b.publicKey), peers: [a.publicKey], logger: quiet })
  const received: InboundItem[][] = []
  await receiver.start(handlers(async (_from, items) => { received.push(items); return receive(items) }))
  await sender.start(handlers(async () => []))
  stops.push(async () => { await sender.stop() }, async () => { await receiver.stop() })
  return { net, sender, received }
}

describe('RbcTransport retransmission', () => {
  it('a message the peer keeps deferring backs off exponentially instead of being resent at once', async () => {
    // the peer acknowledges everything except message ids it defers (here: the first one, always)
    const { sender, received } = await pair((items) => items.filter((i) => i.id !== 1).map((i) => i.id))
    sender.broadcast({ type: 'echo', round: 1, creator: a.publicKey, hash: new Uint8Array(32).fill(1) })
    sender.broadcast({ type: 'echo', round: 2, creator: a.publicKey, hash: new Uint8Array(32).fill(2) })
    await waitFor(() => received.length >= 1, { timeoutMs: 5_000, what: 'the first batch' })
    const start = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const deferredSends = received.filter((batch) => batch.some((i) => i.id === 1)).length
    // 100, 200, 400, 800, 1600 ms (jittered down to half): at most ~7 sends in 3 s, never hundreds
    expect(deferredSends).toBeGreaterThanOrEqual(2)
    expect(deferredSends).toBeLessThanOrEqual(8)
    // the acknowledged message went once and never again
    expect(received.flat().filter((i) => i.id === 2)).toHaveLength(1)
    expect(Date.now() - start).toBeGreaterThanOrEqual(3_000)
  }, 20_000)

  it('an unreachable peer is retried with backoff and flushed at once when it reconnects', async () => {
    const { net, sender, received } = await pair((items) => items.map((i) => i.id))
    net.down(b.publicKey)
    sender.broadcast({ type: 'echo', round: 1, creator: a.publicKey, hash: new Uint8Array(32).fill(1) })
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(received).toHaveLength(0)
    const before = Date.now()
    net.up(b.publicKey)
    await waitFor(() => received.length === 1, { timeoutMs: 1_000, what: 'the flush on reconnect' })
    expect(Date.now() - before).toBeLessThan(500)
    expect(sender.stats().queued).toBe(0)
  }, 20_000)

  it('bounds each peer\'s queue by count, dropping the oldest', async () => {
    const net = new MemoryNetwork()
    const sender = new RbcTransport({ ...engineOptions().transport, maxMessages: 16 }, { network: net.join(a.publicKey), peers: [b.publicKey], logger: quiet })
    // never started: nothing is sent, everything queues
    for (let i = 0; i < 100; i++) sender.broadcast({ type: 'echo', round: i + 1, creator: a.publicKey, hash: new Uint8Array(32) })
    expect(sender.stats().queued).toBe(16)
    expect(sender.stats().dropped).toBe(84)
  })
})

describe('BlockFetcher', () => {
  it('a failure while handing a fetched block on is logged, never an unhandled rejection, and stop() waits for every loop', async () => {
    const net = new MemoryNetwork()
    const transport = new RbcTransport(engineOptions().transport, { network: net.join(a.publicKey), peers: [b.publicKey], logger: quiet })
    const block = makeBlock(keys, b, 3)
    const server = new RbcTransport(engineOptions().transport, { network: net.join(b.publicKey), peers: [a.publicKey], logger: quiet })
    await server.start({ ...handlers(async () => []), onFetch: async () => block })
    stops.push(async () => { await server.stop() })
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown): void => { unhandled.push(err) }
    process.on('unhandledRejection', onUnhandled)
    const log = captureLogger()
    const fetcher = new BlockFetcher(5_000, {
      transport,
      candidates: () => [b.publicKey],
      settled: () => false,
      onBlock: async () => { throw new Error('storage failed') },
      logger: log.logger,
      now: Date.now
    })
    try {
      fetcher.fetch(3, b.publicKey, blockHash(block.header), [b.publicKey])
      fetcher.fetch(3, b.publicKey, blockHash(block.header), [b.publicKey]) // one loop per hash
      expect(fetcher.active).toBe(1)
      await waitFor(() => fetcher.active === 0, { timeoutMs: 5_000, what: 'the fetch loop to end' })
      await fetcher.stop()
      await new Promise((resolve) => setImmediate(resolve))
      expect(unhandled).toEqual([])
      expect(log.lines.some((l) => l.msg === 'block fetch failed' && l.err === 'storage failed')).toBe(true)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
