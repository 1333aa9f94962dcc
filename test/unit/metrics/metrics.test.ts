import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ContractMetrics } from '../../../src/metrics/contract-metrics.js'
import { NodeMetrics } from '../../../src/metrics/node-metrics.js'
import type { EpochProgress } from '../../../src/rewards/epoch-progress.js'

/** The metrics, the README's table of them and the Grafana dashboard stay in step. */

const root = new URL('../../../', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')
const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## An epoch\'s life'))
/** metric name → where (node | coordinator), from the README table */
const documented = new Map([...section.matchAll(/^\| `(ephemera_[a-z_]+)(?:\{[^}]*\})?` \| (node|coordinator) \|/gm)].map((m) => [m[1] as string, m[2] as string]))

let rbc = { sent: 10, received: 12, retransmitted: 1, bytesSent: 2048, dropped: 0, rateLimited: 0, openInstances: 2, delivered: 3, equivocations: 0 }
const node = (): NodeMetrics => new NodeMetrics({ rbc: () => rbc, peers: () => ({ connected: 3, refused: 4 }), storageFailed: () => false })
const contract = (): ContractMetrics => new ContractMetrics({ epoch: () => 7, committeeSize: () => 4 })
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
    expect(text).toMatch(/^ephemera_rbc_messages_sent_total 10$/m)
    expect(text).toMatch(/^ephemera_connections_refused_total 4$/m)
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m)
    rbc = { ...rbc, sent: 25 }
    text = await m.text()
    expect(text).toMatch(/^ephemera_rbc_messages_sent_total 25$/m)
  })

  it('the coordinator counts decisions, round and committee events', async () => {
    const m = contract()
    m.decision('submission', 'accepted')
    m.decision('submission', 'refused')
    m.roundEvent('rollback')
    m.committeeEvent('banned')
    const text = await m.text()
    expect(text).toMatch(/^ephemera_contract_decisions_total\{decision="submission",outcome="refused"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_round_events_total\{kind="rollback"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_committee_events_total\{kind="banned"\} 1$/m)
    expect(text).toMatch(/^ephemera_contract_committee_size 4$/m)
  })
})
