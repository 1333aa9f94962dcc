import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { EpochProgress } from '../rewards/epoch-progress.js'

/** What a node's metrics read when scraped (the composition root provides it). */
export interface NodeMetricsSource {
  rbc: () => { sent: number, received: number, retransmitted: number, bytesSent: number, dropped: number, rateLimited: number, openInstances: number, delivered: number, equivocations: number }
  peers: () => { connected: number, refused: number }
  storageFailed: () => boolean
}

/**
 * A node's Prometheus metrics (`GET /metrics`; README "Metrics" lists each): epochs and their
 * phases from the rewards pipeline, RBC traffic and state from the broadcast engine, peers and
 * refusals from the network, storage, and the process defaults (RSS, event-loop lag, …).
 */
export class NodeMetrics {
  readonly registry = new Registry()
  readonly #epochs: Counter<'outcome'>
  readonly #latency: Histogram
  readonly #phases: Histogram<'phase'>

  constructor (source: NodeMetricsSource) {
    const register = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#epochs = new Counter({ name: 'ephemera_epochs_total', help: 'Epochs this node finished, by outcome (committed or failed)', labelNames: ['outcome'], registers: register })
    this.#latency = new Histogram({ name: 'ephemera_epoch_commit_latency_seconds', help: 'From an epoch\'s end to this node adopting its committed record', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: register })
    this.#phases = new Histogram({ name: 'ephemera_epoch_phase_seconds', help: 'Time an epoch spent in each pipeline phase: compute (end → report signed), reports (→ threshold of reports), broadcast (→ certified block), submit (→ record adopted)', labelNames: ['phase'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: register })
    // cumulative figures the engine and network keep: exposed as counters that follow them
    const follow = (name: string, help: string, read: () => number): void => {
      let last = 0
      const counter: Counter = new Counter({
        name,
        help,
        registers: register,
        collect () {
          const now = read()
          if (now > last) counter.inc(now - last)
          last = Math.max(last, now)
        }
      })
    }
    follow('ephemera_rbc_messages_sent_total', 'RBC messages sent to peers (PROPOSE, ECHO, READY), first sends', () => source.rbc().sent)
    follow('ephemera_rbc_retransmissions_total', 'RBC messages sent again because no acknowledgement came', () => source.rbc().retransmitted)
    follow('ephemera_rbc_messages_received_total', 'RBC messages received from peers', () => source.rbc().received)
    follow('ephemera_rbc_bytes_sent_total', 'Bytes of RBC frames sent', () => source.rbc().bytesSent)
    follow('ephemera_rbc_messages_dropped_total', 'RBC messages dropped from a full per-peer queue', () => source.rbc().dropped)
    follow('ephemera_rbc_rate_limited_total', 'RBC frames refused because a peer exceeded its rate', () => source.rbc().rateLimited)
    follow('ephemera_blocks_delivered_total', 'Certified blocks delivered (by RBC or sync)', () => source.rbc().delivered)
    follow('ephemera_equivocations_total', 'Conflicting signed statements seen (proposals, READYs)', () => source.rbc().equivocations)
    follow('ephemera_connections_refused_total', 'Connections refused by the gater (not a registered validator, or banned)', () => source.peers().refused)
    new Gauge({ name: 'ephemera_rbc_open_instances', help: 'Live RBC instances (undelivered)', registers: register, collect () { this.set(source.rbc().openInstances) } })
    new Gauge({ name: 'ephemera_peers_connected', help: 'Validators this node is connected to', registers: register, collect () { this.set(source.peers().connected) } })
    new Gauge({ name: 'ephemera_storage_failed', help: '1 once a storage write failed (the node stops)', registers: register, collect () { this.set(source.storageFailed() ? 1 : 0) } })
  }

  /** An epoch's pipeline reached a final state. */
  observeEpoch (p: EpochProgress): void {
    if (p.state !== 'committed' && p.state !== 'failed') return
    this.#epochs.inc({ outcome: p.state })
    if (p.state !== 'committed') return
    if (p.latencyMs != null) this.#latency.observe(p.latencyMs / 1000)
    const t = p.times
    const phases: Array<[string, number | undefined, number | undefined]> = [
      ['compute', p.endMs, t.computedAt], ['reports', t.computedAt, t.thresholdAt], ['broadcast', t.thresholdAt, t.deliveredAt], ['submit', t.deliveredAt, t.committedAt]
    ]
    for (const [phase, from, to] of phases) if (from != null && to != null && to >= from) this.#phases.observe({ phase }, (to - from) / 1000)
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }
}
