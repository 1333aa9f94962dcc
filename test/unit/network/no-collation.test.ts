import { afterEach, describe, expect, it, vi } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Network } from '../../../src/network/network.js'
import { memberNetworks, until } from './hosts.js'

/**
 * String.prototype.localeCompare makes V8 load ICU's collation data: ~1.7 MB more resident per
 * process (README "Start-up and memory"). libp2p's peer store and peer records sorted addresses
 * and protocols with it; patches/@libp2p+peer-store+*.patch and @libp2p+peer-record+*.patch
 * (applied by patch-package at npm install) sort by code point instead. Two real hosts connect,
 * identify each other (which fills the peer store) and must never have called it.
 */
describe('libp2p hosts without ICU collation', () => {
  let networks: Network[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(networks.map(async (n) => { await n.stop() }))
    networks = []
  })

  it('connect, identify and store each other without calling localeCompare', async () => {
    const calls = vi.spyOn(String.prototype, 'localeCompare')
    const made = await memberNetworks(2, () => ({ initialBackoffMs: 50, maxBackoffMs: 500, dialTimeoutMs: 10_000, answerGraceMs: 10_000, gossipHeartbeatMs: 700 }))
    networks = made.networks
    await Promise.all(networks.map(async (n) => { await n.start() }))
    const [a, b] = networks as [Network, Network]
    const bId = peerIdFromString(made.members[1]!.peerId)
    // identify has run once a's peer store holds b's listen address and protocols
    let known = false
    await until(() => {
      void a.libp2p.peerStore.get(bId).then((p) => { known = p.addresses.length > 0 && p.protocols.length > 0 }, () => {})
      return known
    }, 15_000, "b's addresses and protocols in a's peer store")
    expect(b.connections()).toHaveLength(1)
    expect(calls).not.toHaveBeenCalled()
  })
})
