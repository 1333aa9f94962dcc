import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ContractMetrics } from '../../../src/metrics/contract-metrics.js'
import { NodeMetrics } from '../../../src/metrics/node-metrics.js'
import { TRAFFIC_TYPES, type Traffic, type TrafficCounts } from '../../../src/broadcast/traffic.js'
import type { EpochProgress } from '../../../src/rewards/epoch-progress.js'

/** The metrics, the README's table of them and the Grafana dashboard stay in step. */

const root = new URL('../../../', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')
const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## An epoch\'s life'))
/** metric name → where (node | coordinator), from the README table */
const documented = new Map([...section.matchAll(/^\| `(ephemera_[a-z_]+)(?:\{[^}]*\})?` \| (node|coordinator) \|/gm)].map((m) => [m[1] as string, m[2] as string]))

const counts = (values: Partial<Record<keyof TrafficCounts, [number, number]>> = {}): TrafficCounts =>
  Object.fromEntries(TRAFFIC_TYPES.map((t) => [t, { messages: values[t]?.[0] ?? 0, bytes: values[t]?.[1] ?? 0 }])) as TrafficCounts
let traffic: Traffic = { sent: counts({ propose: [2, 900], echo: [6, 420], ready: [2, 300], ack: [0, 40] }), received: counts({ echo: [12, 840], fetch: [1, 80] }) }
let rbc = { retransmitted: 1, dropped: 0, rateLimited: 0, openInstances: 2, delivered: 3, equivocations: 0, get traffic () { return traffic } }
const node = (): NodeMetrics => {
  const m = new NodeMetrics()
  m.follow({ rbc: () => rbc, peers: () => ({ connected: 3, refused: 4 }), storageFailed: () => false })
  return m
}
const contract = (): ContractMetrics => {
  const m = new ContractMetrics()
  m.follow({ epoch: () => 7, committeeSize: () => 4 })
  return m
}
const names = (r: { registry: { getMetricsAsArray: () => Array<{ name: string }> } }): string[] => r.registry.getMetricsAsArray().map((m) => m.name).filter((n) => n.startsWith('ephemera_')).sort()

describe('metrics', () => {
  it('the README documents exactly the metrics each process registers, and where', () => {
    expect(documented.size).toBeGreaterThan(15)
    expect(names(node())).toEqual([...documented].filter(([, where]) => where === 'node').map(([n]) => n).sort())
    expect(names(contract())).toEqual([...documented].filter(([, where]) => where === 'coordinator').map(([n]) => n).sort())
  })

  it('the Grafana dashboard uses only documented metrics (and the process defaults), and shows every one', () => {
    const dashboard = readFileSync(new URL('configs/grafana-dashboard.json', root), 'utf8')
    const used = new Set([...dashboard.matchAll(/\b(ephemera_[a-z_]+)/g)].map((m) => (m[1] as string).replace(/_bucket$/, '')))
    expect([...used].filter((n) => !documented.has(n))).toEqual([])
    expect([...documented.keys()].filter((n) => !used.has(n))).toEqual([])
    expect(JSON.parse(dashboard).panels.length).toBeGreaterThan(5)
  })

  it('a node exposes epochs, phases and the engine\'s cumulative counters as they grow', async () => {
    const m = node()
    const p: EpochProgress = { epoch: 5, state: 'committed', startMs: 0, endMs: 10_000, reporters: [], times: { computedAt: 10_050, thresholdAt: 10_200, deliveredAt: 10_400, committedAt: 10_600 }, latencyMs: 600 }
    m.observeEpoch(p)
    m.observeEpoch({ ...p, epoch: 6, state: 'failed' })
    let text = await m.text()
    expect(text).toMatch(/^ephemera_epochs_total\{outcome="committed"\} 1$/m)
    expect(text).toMatch(/^ephemera_epochs_total\{outcome="failed"\} 1$/m)
    expect(text).toMatch(/^ephemera_epoch_phase_seconds_count\{phase="broadcast"\} 1$/m)
    expect(text).toMatch(/^ephemera_epoch_commit_latency_seconds_sum 0\.6$/m)
    expect(text).toMatch(/^ephemera_rbc_retransmissions_total 1$/m)
    expect(text).toMatch(/^ephemera_connections_refused_total 4$/m)
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m)
    rbc = { ...rbc, retransmitted: 5, get traffic () { return traffic } }
    text = await m.text()
    expect(text).toMatch(/^ephemera_rbc_retransmissions_total 5$/m)
  })

  it('a node counts RBC messages and bytes by type, each direction, every type present from the start', async () => {
    const m = node()
    let text = await m.text()
    const value = (name: string, type: string): number => Number(new RegExp(`^${name}\\{type="${type}"\\} (\\d+)$`, 'm').exec(text)?.[1])
    expect(value('ephemera_rbc_messages_sent_total', 'propose')).toBe(2)
    expect(value('ephemera_rbc_messages_sent_total', 'echo')).toBe(6)
    expect(value('ephemera_rbc_messages_sent_total', 'ready')).toBe(2)
    expect(value('ephemera_rbc_messages_sent_total', 'certified')).toBe(0)
    expect(value('ephemera_rbc_bytes_sent_total', 'propose')).toBe(900)
    expect(value('ephemera_rbc_bytes_sent_total', 'ack')).toBe(40)
    expect(value('ephemera_rbc_messages_received_total', 'echo')).toBe(12)
    expect(value('ephemera_rbc_messages_received_total', 'fetch')).toBe(1)
    expect(value('ephemera_rbc_bytes_received_total', 'fetch')).toBe(80)
    // acknowledgements have bytes only: no message count for them
    expect(text).not.toMatch(/^ephemera_rbc_messages_(sent|received)_total\{type="ack"\}/m)
    // every type has its line (6 message types, 7 byte types), and nothing else is labelled
    expect(text.match(/^ephemera_rbc_messages_sent_total\{/gm)).toHaveLength(6)
    expect(text.match(/^ephemera_rbc_bytes_received_total\{/gm)).toHaveLength(7)
    // each scrape adds what grew since the last, per type
    traffic = { sent: counts({ propose: [2, 900], echo: [9, 630], ready: [2, 300], ack: [0, 40] }), received: traffic.received }
    text = await m.text()
    expect(value('ephemera_rbc_messages_sent_total', 'echo')).toBe(9)
    expect(value('ephemera_rbc_bytes_sent_total', 'echo')).toBe(630)
    expect(value('ephemera_rbc_messages_sent_total', 'propose')).toBe(2)
  })

  it('storage writes by sync and failures by operation, on the node and (prefixed) on the coordinator', async () => {
    for (const [m, prefix] of [[new NodeMetrics(), 'ephemera'], [new ContractMetrics(), 'ephemera_contract']] as const) {
      m.storage.written(0.0002, false)
      m.storage.written(0.003, true)
      m.storage.written(0.004, true)
      m.storage.failed('write')
      const text = await m.text()
      expect(text).toMatch(new RegExp(`^${prefix}_storage_write_seconds_count\\{sync="true"\\} 2$`, 'm'))
      expect(text).toMatch(new RegExp(`^${prefix}_storage_write_seconds_bucket\\{le="0.00025",sync="false"\\} 1$`, 'm'))
      expect(text).toMatch(new RegExp(`^${prefix}_storage_write_seconds_bucket\\{le="0.0025",sync="true"\\} 0$`, 'm'))
      expect(text).toMatch(new RegExp(`^${prefix}_storage_write_seconds_bucket\\{le="0.005",sync="true"\\} 2$`, 'm'))
      expect(text).toMatch(new RegExp(`^${prefix}_storage_errors_total\\{operation="write"\\} 1$`, 'm'))
      expect(text).toMatch(new RegExp(`^${prefix}_storage_errors_total\\{operation="read"\\} 0$`, 'm'))
    }
  })

  it('the coordinator counts decisions, round and committee events', async () => {
    const m = contract()
    m.decision('submission', 'accepted')
    m.decision('submission', 'refused', 'ERR_SUBMISSION_INVALID')
    m.decision('lease', 'refused', 'ERR_LEASE_HELD')
    m.decision('lease', 'refused', 'ERR_LEASE_HELD')
    m.decision('lease', 'refused')
    m.roundEvent('rollback')
    m.committeeEvent({ kind: 'banned' })
    m.committeeEvent({ kind: 'committed', decisions: ['dropped', 'admitted', 'dropped'] })
    const text = await m.text()
    expect(text).toMatch(/^ephemera_contract_decisions_total\{decision="submission",outcome="refused"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_decisions_total\{decision="lease",outcome="refused"\} 3$/m)
    expect(text).toMatch(/^ephemera_contract_refusals_total\{decision="submission",code="ERR_SUBMISSION_INVALID"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_refusals_total\{decision="lease",code="ERR_LEASE_HELD"\} 2$/m)
    expect(text).toMatch(/^ephemera_contract_refusals_total\{decision="lease",code="ERR_INTERNAL"\} 1$/m)
    // accepted decisions are not refusals
    expect(text.match(/^ephemera_contract_refusals_total\{/gm)).toHaveLength(3)
    expect(text).toMatch(/^ephemera_contract_committee_events_total\{kind="committed"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_committee_decisions_total\{kind="dropped"\} 2$/m)
    expect(text).toMatch(/^ephemera_contract_committee_decisions_total\{kind="admitted"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_committee_decisions_total\{kind="banned"\} 0$/m)
    expect(text).toMatch(/^ephemera_contract_round_events_total\{kind="rollback"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_committee_events_total\{kind="banned"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_committee_size 4$/m)
  })
})
