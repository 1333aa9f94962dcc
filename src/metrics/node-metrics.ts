import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { MESSAGE_TYPES, TRAFFIC_TYPES, type Traffic } from '../broadcast/index.js'
import type { EpochProgress } from '../rewards/epoch-progress.js'
import type { StorageObserver } from '../storage/index.js'
import { storageMetrics } from './storage-metrics.js'

/** What a node's metrics read when scraped (the composition root provides it). */
export interface NodeMetricsSource {
  rbc: () => { retransmitted: number, dropped: number, rateLimited: number, openInstances: number, delivered: number, equivocations: number, traffic: Traffic }
  peers: () => { connected: number, refused: number }
  storageFailed: () => boolean
}

/**
 * A node's Prometheus metrics (`GET /metrics`; README "Metrics" lists each): epochs and their
 * phases from the rewards pipeline, RBC traffic by type and state from the broadcast engine, peers
 * and refusals from the network, storage writes, and the process defaults (RSS, event-loop lag,
 * …). Its registry also takes the libp2p host's own metrics (src/network/libp2p.ts).
 *
 * Made before the parts it watches (the database and the libp2p host report into it as they
 * run); `follow` then adds what is read from the parts when scraped.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  /** For Database.open: write latency and errors. */
  readonly storage: StorageObserver
  readonly #epochs: Counter<'outcome'>
  readonly #latency: Histogram
  readonly #phases: Histogram<'phase'>
  #following = false

  constructor () {
    const register = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#epochs = new Counter({ name: 'ephemera_epochs_total', help: 'Epochs this node finished, by outcome (committed or failed)', labelNames: ['outcome'], registers: register })
    this.#latency = new Histogram({ name: 'ephemera_epoch_commit_latency_seconds', help: 'From an epoch\'s end to this node adopting its committed record', buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: register })
    this.#phases = new Histogram({ name: 'ephemera_epoch_phase_seconds', help: 'Time an epoch spent in each pipeline phase: compute (end → report signed), reports (→ threshold of reports), broadcast (→ certified block), submit (→ record adopted)', labelNames: ['phase'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: register })
    this.storage = storageMetrics(this.registry, 'ephemera')
  }

  /** Adds the metrics read from the running parts when scraped (once). */
  follow (source: NodeMetricsSource): void {
    if (this.#following) return
    this.#following = true
    const register = [this.registry]
    // cumulative figures the engine and network keep: exposed as counters that follow them
    const follow = (name: string, help: string, read: () => Record<string, number>, label?: { name: string, values: readonly string[] }): void => {
      const last = new Map<string, number>()
      const counter: Counter<string> = new Counter({
        name,
        help,
        labelNames: label == null ? [] : [label.name],
        registers: register,
        collect () {
          const now = read()
          for (const value of label?.values ?? ['']) {
            const before = last.get(value) ?? 0
            const current = now[value] ?? 0
            counter.inc(label == null ? {} : { [label.name]: value }, Math.max(0, current - before))
            last.set(value, Math.max(before, current))
          }
        }
      })
    }
    const traffic = (direction: keyof Traffic, field: 'messages' | 'bytes') => (): Record<string, number> =>
      Object.fromEntries(Object.entries(source.rbc().traffic[direction]).map(([type, counts]) => [type, counts[field]]))
    const messages = { name: 'type', values: MESSAGE_TYPES }
    const bytes = { name: 'type', values: TRAFFIC_TYPES }
    follow('ephemera_rbc_messages_sent_total', 'RBC messages sent to peers, retransmissions included (type: propose, echo, ready), and requests made (fetch, sync, certified)', traffic('sent', 'messages'), messages)
    follow('ephemera_rbc_messages_received_total', 'RBC messages received from peers (type: propose, echo, ready), and requests served (fetch, sync, certified)', traffic('received', 'messages'), messages)
    follow('ephemera_rbc_bytes_sent_total', 'Bytes of frames sent, by type: RBC messages (propose, echo, ready), their acknowledgements (ack), and requests and answers (fetch, sync, certified)', traffic('sent', 'bytes'), bytes)
    follow('ephemera_rbc_bytes_received_total', 'Bytes of frames received, by type, as ephemera_rbc_bytes_sent_total', traffic('received', 'bytes'), bytes)
    follow('ephemera_rbc_retransmissions_total', 'RBC messages sent again because no acknowledgement came', () => ({ '': source.rbc().retransmitted }))
    follow('ephemera_rbc_messages_dropped_total', 'RBC messages dropped from a full per-peer queue', () => ({ '': source.rbc().dropped }))
    follow('ephemera_rbc_rate_limited_total', 'RBC frames refused because a peer exceeded its rate', () => ({ '': source.rbc().rateLimited }))
    follow('ephemera_blocks_delivered_total', 'Certified blocks delivered (by RBC or sync)', () => ({ '': source.rbc().delivered }))
    follow('ephemera_equivocations_total', 'Conflicting signed statements seen (proposals, READYs)', () => ({ '': source.rbc().equivocations }))
    follow('ephemera_connections_refused_total', 'Connections refused by the gater (not a registered validator, or banned)', () => ({ '': source.peers().refused }))
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
