import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES } from '../../src/broadcast/wire.js'
import { NodeKey } from '../../src/crypto/keys.js'
import { createNodeLibp2p, type NodeLibp2p } from '../../src/network/libp2p.js'
import { request, serve } from '../../src/network/reqresp.js'
import { StreamPool } from '../../src/network/stream-pool.js'

/**
 * Real libp2p hosts over TCP on loopback (in the test process): one request frame and one response
 * frame per stream, at every size up to the protocol's limit. libp2p's byte stream buffers 4 MiB by
 * default and aborts the stream beyond that; RBC frames may be 8 MiB + 64 KiB (a PROPOSE of a
 * block of up to 8 MiB), so a 6.5 MiB block was never delivered (found by test/e2e large-block).
 */

const hosts: NodeLibp2p[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map(async (h) => { await h.stop() }))
})

async function host (seed: number): Promise<{ libp2p: NodeLibp2p, key: NodeKey }> {
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(seed))
  const libp2p = await createNodeLibp2p({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses: [], gossipHeartbeatMs: 1_000 })
  await libp2p.start()
  hosts.push(libp2p)
  return { libp2p, key }
}

describe('request/response frames over libp2p', () => {
  it('carries frames of every size up to the protocol limit, both ways, and refuses one above it', async () => {
    const a = await host(0x51)
    const b = await host(0x52)
    const protocol = '/ephemera/test-frames/1.0.0'
    // the server answers with a frame as large as the one it got, filled with its length's low byte
    await serve(b.libp2p, protocol, { maxRequestBytes: MAX_FRAME_BYTES, timeoutMs: 20_000 }, async (_from, frame) => new Uint8Array(frame.length).fill(frame.length & 0xff))
    await a.libp2p.dial(multiaddr(`${b.libp2p.getMultiaddrs()[0]!.toString()}`))
    for (const size of [1, 4 * 1024 * 1024 - 1, 4 * 1024 * 1024 + 1, 6_800_000, MAX_FRAME_BYTES]) {
      const payload = new Uint8Array(size).fill(7)
      const answer = await request(a.libp2p, b.key.publicKey, protocol, payload, { signal: AbortSignal.timeout(20_000), maxResponseBytes: MAX_FRAME_BYTES })
      expect(answer.length, `a ${size}-byte frame`).toBe(size)
      expect(answer[size - 1]).toBe(size & 0xff)
    }
    await expect(request(a.libp2p, b.key.publicKey, protocol, new Uint8Array(MAX_FRAME_BYTES + 1), { signal: AbortSignal.timeout(20_000), maxResponseBytes: MAX_FRAME_BYTES })).rejects.toThrow()
  }, 60_000)

  it('keeps a stream open between exchanges: many requests, one stream; a stream the server closed is replaced without a failed request', async () => {
    const a = await host(0x53)
    const b = await host(0x54)
    const protocol = '/ephemera/test-pool/1.0.0'
    const streamsSeen = new Set<string>()
    const requesters = new Set<string>()
    let idleMs = 30_000
    await serve(b.libp2p, protocol, { maxRequestBytes: 1024, timeoutMs: 5_000, get idleMs () { return idleMs } }, async (from, frame) => {
      requesters.add(Buffer.from(from).toString('hex'))
      return frame.slice().reverse()
    })
    await a.libp2p.dial(multiaddr(`${b.libp2p.getMultiaddrs()[0]!.toString()}`))
    const pool = new StreamPool({ maxIdlePerKey: 2, idleMs: 10_000 })
    const opened = (): number => a.libp2p.getConnections().flatMap((c) => c.streams).filter((s) => s.protocol === protocol).length
    for (let i = 0; i < 50; i++) {
      const answer = await request(a.libp2p, b.key.publicKey, protocol, Uint8Array.of(i, 1, 2), { signal: AbortSignal.timeout(5_000), maxResponseBytes: 1024, pool })
      expect([...answer]).toEqual([2, 1, i])
      for (const s of a.libp2p.getConnections().flatMap((c) => c.streams)) if (s.protocol === protocol) streamsSeen.add(s.id)
    }
    // one stream carried all 50 exchanges, and it is kept for the next
    expect(streamsSeen.size).toBe(1)
    expect(pool.size).toBe(1)
    expect(opened()).toBe(1)
    expect([...requesters]).toEqual([Buffer.from(a.key.publicKey).toString('hex')])

    // the server closes streams idle for 100 ms: the pooled one dies; the next request still succeeds
    idleMs = 100
    await request(a.libp2p, b.key.publicKey, protocol, Uint8Array.of(9), { signal: AbortSignal.timeout(5_000), maxResponseBytes: 1024, pool })
    await new Promise((resolve) => setTimeout(resolve, 400))
    const answer = await request(a.libp2p, b.key.publicKey, protocol, Uint8Array.of(7, 8), { signal: AbortSignal.timeout(5_000), maxResponseBytes: 1024, pool })
    expect([...answer]).toEqual([8, 7])

    // a requester without a pool (one stream per exchange) is served as before, and leaves no stream open
    idleMs = 30_000
    pool.clear()
    for (let i = 0; i < 3; i++) expect([...await request(a.libp2p, b.key.publicKey, protocol, Uint8Array.of(i, 5), { signal: AbortSignal.timeout(5_000), maxResponseBytes: 1024 })]).toEqual([5, i])
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(opened()).toBe(0)
  }, 60_000)
})
