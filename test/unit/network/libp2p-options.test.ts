import { generateKeyPair } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { CONNECTION_MONITOR, createNodeLibp2p, GOSSIP_MESH } from '../../../src/network/libp2p.js'

/**
 * The libp2p host's connection monitor: a member busy for a few seconds (many processes starting
 * on few cores) must not have its connections aborted for a missed ping. libp2p's defaults ping
 * every 10 s and abort after 5 s at first; measured at 25 nodes on two cores, that aborted sound
 * connections dozens of times during start-up (README "Benchmark").
 */

describe('createNodeLibp2p', () => {
  it('pings each connection every 2 minutes (or as configured) and gives an answer 30 to 60 s before aborting the connection', async () => {
    const host = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses: [], gossipHeartbeatMs: 700 })
    // libp2p exposes no getter for these; its component keeps them as given
    const monitor = (host as unknown as { components: { connectionMonitor: { pingIntervalMs: number, abortConnectionOnPingFailure: boolean, timeout: { minTimeout: number, maxTimeout: number } } } }).components.connectionMonitor
    expect(monitor.pingIntervalMs).toBe(120_000)
    expect(monitor.abortConnectionOnPingFailure).toBe(true)
    expect({ min: monitor.timeout.minTimeout, max: monitor.timeout.maxTimeout }).toEqual({ min: 30_000, max: 60_000 })
    expect(CONNECTION_MONITOR).toEqual({ pingInterval: 120_000, pingTimeout: { minTimeout: 30_000, maxTimeout: 60_000 } })
    const configured = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses: [], gossipHeartbeatMs: 700, pingIntervalMs: 15_000 })
    expect((configured as unknown as { components: { connectionMonitor: { pingIntervalMs: number } } }).components.connectionMonitor.pingIntervalMs).toBe(15_000)
  })
})

describe('createNodeLibp2p gossip', () => {
  it('keeps no mesh (publications are flooded to every member, lost copies repaired by gossip) and does not penalise members sharing an address', async () => {
    const host = await createNodeLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses: [], gossipHeartbeatMs: 700 })
    // the gossipsub service keeps its options as resolved
    const opts = (host.services.pubsub as unknown as { opts: { D: number, Dlo: number, Dhi: number, Dout: number, Dlazy: number, floodPublish: boolean, scoreParams: { IPColocationFactorWeight: number } } }).opts
    expect({ D: opts.D, Dlo: opts.Dlo, Dhi: opts.Dhi, Dout: opts.Dout, Dlazy: opts.Dlazy }).toEqual(GOSSIP_MESH)
    expect(GOSSIP_MESH).toEqual({ D: 0, Dlo: 0, Dhi: 0, Dout: 0, Dlazy: 3 })
    expect(opts.floodPublish).toBe(true)
    expect(opts.scoreParams.IPColocationFactorWeight).toBe(0)
  })
})
