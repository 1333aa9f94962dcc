import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { StorageObserver } from '../storage/index.js'
import { storageMetrics } from './storage-metrics.js'

/** What the coordinator's metrics read when scraped. */
export interface ContractMetricsSource {
  epoch: () => number
  committeeSize: () => number
}

/**
 * The coordinator's Prometheus metrics (`GET /metrics`; README "Metrics"): decisions on signed
 * requests (the audit trail) and refusals by code, round transitions, committee events and the
 * decisions of committed changes, the committee's size, storage writes, and the process defaults.
 * Made before the store (which reports into it); `follow` adds the gauges read from the
 * coordinator.
 */
export class ContractMetrics {
  readonly registry = new Registry()
  /** For Database.open: write latency and errors. */
  readonly storage: StorageObserver
  readonly #decisions: Counter<'decision' | 'outcome'>
  readonly #refusals: Counter<'decision' | 'code'>
  readonly #rounds: Counter<'kind'>
  readonly #committee: Counter<'kind'>
  readonly #changes: Counter<'kind'>
  #following = false

  constructor () {
    const register = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#decisions = new Counter({ name: 'ephemera_contract_decisions_total', help: 'Decisions on signed requests (lease, contribution, verification, submission, join, leave, evidence, operator …), accepted or refused', labelNames: ['decision', 'outcome'], registers: register })
    this.#refusals = new Counter({ name: 'ephemera_contract_refusals_total', help: 'Refused decisions by their error code (ERR_LEASE_HELD, ERR_EPOCH_DECIDED, ERR_SUBMISSION_INVALID, …; ERR_INTERNAL for an unexpected fault)', labelNames: ['decision', 'code'], registers: register })
    this.#rounds = new Counter({ name: 'ephemera_contract_round_events_total', help: 'Round transitions: lease-expired, verifier-expired, verification-failed, rollback, committed, failed', labelNames: ['kind'], registers: register })
    this.#committee = new Counter({ name: 'ephemera_contract_committee_events_total', help: 'Committee events: queued, staged, returned-to-queue, committed (a change), banned, unbanned, …', labelNames: ['kind'], registers: register })
    this.#changes = new Counter({ name: 'ephemera_contract_committee_decisions_total', help: 'Members admitted, dropped (missed epochs), left or banned, counted when the committee change carrying the decision commits', labelNames: ['kind'], registers: register })
    for (const kind of ['admitted', 'dropped', 'left', 'banned']) this.#changes.inc({ kind }, 0)
    this.storage = storageMetrics(this.registry, 'ephemera_contract')
  }

  /** Adds the gauges read from the coordinator when scraped (once). */
  follow (source: ContractMetricsSource): void {
    if (this.#following) return
    this.#following = true
    const register = [this.registry]
    new Gauge({ name: 'ephemera_contract_epoch', help: 'The epoch running now', registers: register, collect () { this.set(source.epoch()) } })
    new Gauge({ name: 'ephemera_contract_committee_size', help: 'Members of the current epoch\'s committee', registers: register, collect () { this.set(source.committeeSize()) } })
  }

  /** A decision of the audit trail; a refusal with its error code. */
  decision (decision: string, outcome: 'accepted' | 'refused', code?: string): void {
    this.#decisions.inc({ decision, outcome })
    if (outcome === 'refused') this.#refusals.inc({ decision, code: code ?? 'ERR_INTERNAL' })
  }

  roundEvent (kind: string): void {
    this.#rounds.inc({ kind })
  }

  /** A committee event; a committed change also counts each of its decisions by kind. */
  committeeEvent (event: { kind: string, decisions?: readonly string[] }): void {
    this.#committee.inc({ kind: event.kind })
    for (const kind of event.decisions ?? []) this.#changes.inc({ kind })
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }
}
