import type { Cluster } from './cluster.js'
import type { FaultLedger } from './ledger.js'

/** What a scenario's steps and checkers share while it runs. */
export interface RunContext {
  /** Replaced only if the first start hit a port taken meanwhile. */
  cluster: Cluster
  readonly ledger: FaultLedger
  /** Epoch number of the scenario's "epoch 0" (rewards); steps' epochs are relative to it. */
  base: number
  /** When the scenario's timeline started (after the cluster was up). */
  startedAt: number
  /** When the timeline and its tail ended (before the final checks). */
  endedAt?: number
  /** Members that misbehave on purpose (their reports/votes are not held to the honest rules). */
  readonly byzantine: Set<string>
  /** Members in `rewards.fault = equivocate` (two reports per epoch, deliberately). */
  readonly equivocators: Set<string>
  /** Records an invariant violation (the scenario fails at the end, listing all of them). */
  violation: (checker: string, message: string) => void
  /** A line for the scenario's log (printed with the result). */
  note: (message: string) => void
  /** Scenario-specific state shared between steps. */
  readonly data: Record<string, unknown>
  readonly signal: AbortSignal
}

/** A continuous invariant checker: polled while the scenario runs, then once more at the end. */
export interface Checker {
  readonly name: string
  /** How often to poll (ms). */
  readonly intervalMs: number
  poll: (ctx: RunContext) => Promise<void>
  /** The end-of-run check (after the last step and the tail). */
  final?: (ctx: RunContext) => Promise<void>
  /** What was checked, e.g. "42 records stable, 160 official copies equal". */
  summary: () => string
}
