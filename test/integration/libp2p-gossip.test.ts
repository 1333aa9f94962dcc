import { multiaddr } from '@multiformats/multiaddr'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeKey } from '../../src/crypto/keys.js'
import { createNodeLibp2p, type NodeLibp2p } from '../../src/network/libp2p.js'
import { Libp2pGossip } from '../../src/network/libp2p-gossip.js'
import { waitFor } from '../helpers/env.js'

/**
 * Gossip between real libp2p hosts over TCP on loopback (in the test process): publications are
 * unsigned (StrictNoSign, docs/PROTOCOL.md §3), reach a subscriber that is not connected to their
 * author through gossip (no mesh: a peer that has one offers it by IHAVE at its heartbeat and
 * sends it when asked, IWANT), are delivered once each, and a publication a validator rejects
 * goes no further.
 */

const hosts: NodeLibp2p[] = []
afterEach(async () => {
  await Promise.all(hosts.splice(0).map(async (h) => { await h.stop() }))
})

/** A host; `memberAddresses` exempts their hosts from libp2p's inbound connection rate limit. */
async function host (seed: number, memberAddresses: string[] = []): Promise<NodeLibp2p> {
  const key = NodeKey.fromSeed(new Uint8Array(32).fill(seed))
  const libp2p = await createNodeLibp2p({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses, gossipHeartbeatMs: 200 })
  await libp2p.start()
  hosts.push(libp2p)
  return libp2p
}

const TOPIC = 'ephemera/test-gossip/2'

describe('gossip over libp2p', () => {
  it('carries unsigned publications through an intermediary\'s gossip, each delivered once; a rejected one goes no further', async () => {
    // a line a — b — c: c hears a only through b
    const [a, b, c] = [await host(0x61), await host(0x62), await host(0x63)]
    await a.dial(multiaddr(b.getMultiaddrs()[0]!.toString()))
    await c.dial(multiaddr(b.getMultiaddrs()[0]!.toString()))
    const delivered = new Map<NodeLibp2p, string[]>([[b, []], [c, []]])
    const validated = new Map<NodeLibp2p, number>([[b, 0], [c, 0]])
    const raw: Message[] = []
    for (const h of [b, c]) {
      ;(h.services.pubsub as unknown as GossipSub).addEventListener('message', (evt) => { raw.push(evt.detail) })
      new Libp2pGossip(h, pino({ level: 'silent' })).subscribe(TOPIC, {
        validate: (data) => {
          validated.set(h, (validated.get(h) ?? 0) + 1)
          return new TextDecoder().decode(data).startsWith('bad') ? 'reject' : { accept: data }
        },
        deliver: (data) => { delivered.get(h)!.push(new TextDecoder().decode(data)) }
      })
    }
    const sender = new Libp2pGossip(a, pino({ level: 'silent' }))
    sender.subscribe(TOPIC, { validate: (data) => ({ accept: data }), deliver: () => {} })
    const pubsubOf = (h: NodeLibp2p): GossipSub => h.services.pubsub as unknown as GossipSub
    // the mesh: a and c each see b subscribed
    await waitFor(() => pubsubOf(a).getSubscribers(TOPIC).length === 1 && pubsubOf(c).getSubscribers(TOPIC).length === 1, { timeoutMs: 15_000, what: 'subscriptions' })

    await sender.publish(TOPIC, new TextEncoder().encode('bad one'))
    for (let i = 0; i < 5; i++) await sender.publish(TOPIC, new TextEncoder().encode(`report ${i}`))
    await waitFor(() => delivered.get(c)!.length === 5, { timeoutMs: 15_000, what: 'five deliveries at c' })

    expect(delivered.get(b)!.sort()).toEqual(['report 0', 'report 1', 'report 2', 'report 3', 'report 4'])
    expect(delivered.get(c)!.sort()).toEqual(['report 0', 'report 1', 'report 2', 'report 3', 'report 4'])
    // b saw the rejected one and dropped it: c never validated it
    expect(validated.get(b)).toBe(6)
    expect(validated.get(c)).toBe(5)
    // what travelled carries no publisher, sequence number, key or signature
    expect(raw.length).toBe(10)
    for (const m of raw) {
      expect(m.type).toBe('unsigned')
      expect(Object.keys(m).sort()).toEqual(['data', 'topic', 'type'])
    }
  }, 60_000)

  it('gossips between members that share one address: a hub with 12 peers on loopback', async () => {
    // gossipsub's default peer scoring penalises more than 10 peers on one IP (-5 × surplus²):
    // at 12 the hub scored every peer -20, below the gossip threshold, and offered them nothing
    const hub = await host(0x70, ['/ip4/127.0.0.1/tcp/1'])
    const leaves: NodeLibp2p[] = []
    for (let i = 1; i <= 12; i++) leaves.push(await host(0x70 + i))
    await Promise.all(leaves.map(async (leaf) => { await leaf.dial(multiaddr(hub.getMultiaddrs()[0]!.toString())) }))
    const delivered = new Map<NodeLibp2p, string[]>(leaves.map((leaf) => [leaf, []]))
    for (const h of [hub, ...leaves]) {
      new Libp2pGossip(h, pino({ level: 'silent' })).subscribe(TOPIC, {
        validate: (data) => ({ accept: data }),
        deliver: (data) => { delivered.get(h)?.push(new TextDecoder().decode(data)) }
      })
    }
    const pubsubOf = (h: NodeLibp2p): GossipSub => h.services.pubsub as unknown as GossipSub
    await waitFor(() => pubsubOf(hub).getSubscribers(TOPIC).length === 12 && leaves.every((leaf) => pubsubOf(leaf).getSubscribers(TOPIC).length === 1), { timeoutMs: 20_000, what: 'subscriptions' })
    // the implementation's methods (not on the GossipSub interface)
    const hubSub = hub.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[], getScore: (peer: string) => number, heartbeatTicks: number }
    for (const leaf of leaves) expect(hubSub.getScore(leaf.peerId.toString())).toBeGreaterThanOrEqual(0)

    // a leaf's publication reaches the other leaves only through the hub, which keeps no mesh and
    // forwards nothing: it offers the publication (IHAVE) to Dlazy peers at each heartbeat (200 ms
    // here) while the publication is in its gossip window, and sends it to those that ask (IWANT).
    // Which leaves it offers it to is random; members are normally all connected to each other.
    const [first, ...others] = leaves as [NodeLibp2p, ...NodeLibp2p[]]
    const ticks = hubSub.heartbeatTicks
    await new Libp2pGossip(first, pino({ level: 'silent' })).publish(TOPIC, new TextEncoder().encode('from a leaf'))
    await waitFor(() => others.some((leaf) => delivered.get(leaf)!.length > 0), { timeoutMs: 15_000, what: 'a delivery at another leaf' })
    // the gossip window is 3 heartbeats: once the hub is past it, each leaf has it at most once
    await waitFor(() => hubSub.heartbeatTicks >= ticks + 5, { timeoutMs: 15_000, what: 'the hub\'s gossip window to pass' })
    expect(hubSub.getMeshPeers(TOPIC)).toEqual([])
    for (const leaf of others) expect(delivered.get(leaf)!.length === 0 || delivered.get(leaf)!.join() === 'from a leaf').toBe(true)
  }, 60_000)
})
