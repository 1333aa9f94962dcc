import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES } from '../../src/broadcast/wire.js'
import { NodeKey } from '../../src/crypto/keys.js'
import { createNodeLibp2p, type NodeLibp2p } from '../../src/network/libp2p.js'
import { request, serve } from '../../src/network/reqresp.js'

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
      const answer = await request(a.libp2p, b.key.publicKey, protocol, payload, { signal: () => AbortSignal.timeout(20_000), maxResponseBytes: MAX_FRAME_BYTES })
      expect(answer.length, `a ${size}-byte frame`).toBe(size)
      expect(answer[size - 1]).toBe(size & 0xff)
    }
    await expect(request(a.libp2p, b.key.publicKey, protocol, new Uint8Array(MAX_FRAME_BYTES + 1), { signal: () => AbortSignal.timeout(20_000), maxResponseBytes: MAX_FRAME_BYTES })).rejects.toThrow()
  }, 60_000)
})
