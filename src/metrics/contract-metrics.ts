import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'

/**
 * The coordinator's Prometheus metrics (`GET /metrics`; README "Metrics"): decisions on signed
 * requests (the audit trail), round transitions, committee events, the committee's size, and the
 * process defaults.
 */
export class ContractMetrics {
  readonly registry = new Registry()
  readonly #decisions: Counter<'decision' | 'outcome'>
  readonly #rounds: Counter<'kind'>
  readonly #committee: Counter<'kind'>

  constructor (source: { epoch: () => number, committeeSize: () => number }) {
    const register = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#decisions = new Counter({ name: 'ephemera_contract_decisions_total', help: 'Decisions on signed requests (lease, contribution, verification, submission, join, leave, evidence, operator …), accepted or refused', labelNames: ['decision', 'outcome'], registers: register })
    this.#rounds = new Counter({ name: 'ephemera_contract_round_events_total', help: 'Round transitions: lease-expired, verifier-expired, verification-failed, rollback, committed, failed', labelNames: ['kind'], registers: register })
    this.#committee = new Counter({ name: 'ephemera_contract_committee_events_total', help: 'Committee events: queued, staged, returned-to-queue, committed (a change), banned, unbanned, …', labelNames: ['kind'], registers: register })
    new Gauge({ name: 'ephemera_contract_epoch', help: 'The epoch running now', registers: register, collect () { this.set(source.epoch()) } })
    new Gauge({ name: 'ephemera_contract_committee_size', help: 'Members of the current epoch\'s committee', registers: register, collect () { this.set(source.committeeSize()) } })
  }

  decision (decision: string, outcome: 'accepted' | 'refused'): void {
    this.#decisions.inc({ decision, outcome })
  }

  roundEvent (kind: string): void {
    this.#rounds.inc({ kind })
  }

  committeeEvent (kind: string): void {
    this.#committee.inc({ kind })
  }

  async text (): Promise<string> {
    return await this.registry.metrics()
  }
}
