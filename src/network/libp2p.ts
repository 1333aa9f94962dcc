import { noise } from '@chainsafe/libp2p-noise'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { Registry } from 'prom-client'

export interface Libp2pOptions {
  privateKey: PrivateKey
  listen: string
  gater: ConnectionGater
  /** Multiaddrs (`/ip4/…/tcp/…`) of members: their hosts bypass the per-host inbound rate limit. */
  memberAddresses: readonly string[]
  gossipHeartbeatMs: number
  /** How often the connection monitor pings each connection (default CONNECTION_MONITOR.pingInterval). */
  pingIntervalMs?: number
  /**
   * The node's metrics registry: libp2p's own metrics (libp2p_*) go into it; the process defaults
   * are the registry owner's (not collected twice). @libp2p/prometheus-metrics keeps one table of
   * metric names per process, which each new host clears; hosts created and started one after
   * the other each get their own, but hosts that overlap share some: only one host per process
   * (a node's) should get a registry.
   */
  metricsRegistry?: Registry
}

/**
 * libp2p's connection monitor (below): how often it pings each connection by default
 * (`p2p.ping_interval_ms`), and how long an answer may take. Each ping is a new stream, and each
 * new stream costs both ends a protocol negotiation and a peer-store update: at 25 nodes on two
 * cores a 30 s interval took 20 of the 77 % of CPU an idle network used (README "Benchmark").
 */
export const CONNECTION_MONITOR = { pingInterval: 120_000, pingTimeout: { minTimeout: 30_000, maxTimeout: 60_000 } }

/** Gossipsub peer-score parameters: no penalty for members sharing an address (see createNodeLibp2p). */
export const GOSSIP_SCORE_PARAMS = { IPColocationFactorWeight: 0 } as const

/**
 * Gossipsub's mesh degree: none. Every member connects to every other and a publication is
 * flooded to every subscribed peer (floodPublish), so forwarding along a mesh only sends copies a
 * peer already has; a copy that a direct send lost is repaired by gossipsub's lazy gossip (IHAVE
 * to Dlazy peers at each heartbeat, then IWANT), and in the rewards application by the direct
 * report fetch (docs/PROTOCOL.md §3, §7.1). With a mesh of 3 (2-4) each member of 10 received
 * every report from its author and about two forwarders, and sent an IDONTWANT to each mesh peer
 * for each one (reports are above gossipsub's 512-byte IDONTWANT threshold): measured at 10 nodes
 * with 2 s epochs, 80 s after start-up, one node's gossip traffic was 4.2-4.3 MB each way, 1.1-1.2
 * MB without a mesh, and the nodes' CPU at 95-126 % of one core once settled against 129-207 %
 * (one of those two runs never left its start-up storm: 0 of 30 epochs committed). The default
 * degree (6, up to 12) had been cut to 3 for the same reason before (README "Gossip at N ≥ 12").
 */
export const GOSSIP_MESH = { D: 0, Dlo: 0, Dhi: 0, Dout: 0, Dlazy: 3 } as const

/** The only createLibp2p call: TCP + Noise + yamux, identify, ping and gossipsub. */
export async function createNodeLibp2p (opts: Libp2pOptions) {
  return await createLibp2p({
    start: false,
    privateKey: opts.privateKey,
    addresses: { listen: [opts.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: opts.gater,
    ...(opts.metricsRegistry != null ? { metrics: prometheusMetrics({ registry: opts.metricsRegistry, collectDefaultMetrics: false }) } : {}),
    connectionManager: {
      // Several members may share one host (a local cluster): exempt members' hosts from the
      // 5-connections-per-second inbound limit; non-members are still refused by the gater.
      allow: memberHostCidrs(opts.memberAddresses)
    },
    // libp2p pings every connection on a new stream and aborts it when a ping is not answered in
    // time (by default every 10 s, within 5 s at first). On a loaded machine (25 nodes starting on
    // two cores) busy members miss that, so sound connections were aborted and re-dialled: more
    // handshakes, more load, more missed pings. Pinged every `p2p.ping_interval_ms` (2 minutes by
    // default) and given 30–60 s, a dead connection is still found and closed; README "Benchmark"
    // has the measurements.
    connectionMonitor: { ...CONNECTION_MONITOR, pingInterval: opts.pingIntervalMs ?? CONNECTION_MONITOR.pingInterval },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        heartbeatInterval: opts.gossipHeartbeatMs,
        // What is gossiped (reports, client messages) is signed by its author and checked by the
        // topic's validator. With gossipsub's own signatures every copy of a message (one per
        // mesh peer) was signature-checked again, its key rebuilt from JWK each time: ~11 % of a
        // node's CPU at N=10. Unsigned, a message's id is the SHA-256 of its data, so the
        // duplicates are dropped before any check (docs/PROTOCOL.md §4).
        globalSignaturePolicy: StrictNoSign,
        // Peer scoring's IP-colocation penalty (P6) counts the peers connected from one address
        // and, past 10, scores each of them -5 × surplus². Only members ever connect (the gater),
        // and members sharing a host is normal (a local cluster, a NAT): with 16 nodes on one
        // host every peer scored -125, below the graylist, and gossipsub carried nothing (from
        // 12, below 0: no mesh, so no forwarding). Reports then came only from the direct ask at
        // half the report deadline (measured: threshold ~3 s after the epoch's end at N=16 with
        // 10 s epochs; docs/PROTOCOL.md §3).
        scoreParams: GOSSIP_SCORE_PARAMS,
        ...GOSSIP_MESH,
        allowPublishToZeroTopicPeers: true,
        emitSelf: false
      })
    }
  })
}

export type NodeLibp2p = Awaited<ReturnType<typeof createNodeLibp2p>>

function memberHostCidrs (addresses: readonly string[]): string[] {
  const cidrs = new Set<string>()
  for (const address of addresses) {
    const [host] = multiaddr(address).getComponents()
    if (host?.name === 'ip4') cidrs.add(`/ip4/${host.value}/ipcidr/32`)
    else if (host?.name === 'ip6') cidrs.add(`/ip6/${host.value}/ipcidr/128`)
  }
  return [...cidrs]
}
