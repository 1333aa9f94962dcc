/**
 * Coordinator environments (like the phase2-coordinator's Environment): the epoch length and
 * every timeout derived from it, so a 2-second test epoch and a 1-hour production epoch run the
 * same code. Nodes read these from the coordinator (GET /contract/epoch) rather than configuring
 * their own.
 */

export type EnvironmentName = 'testing' | 'development' | 'production'

export interface Environment {
  name: EnvironmentName
  epochMs: number
  /** How often nodes sample mixnode uptime. */
  sampleIntervalMs: number
  /** After an epoch ends, how long nodes wait for reports before giving up on it. */
  reportDeadlineMs: number
  /** Gap between proposer ranks: rank k proposes k·δ after reaching the report threshold. */
  proposerStaggerMs: number
  /** After an epoch ends, how long nodes keep trying to get a block certified and submitted. */
  epochDeadlineMs: number
  /** Gap between submitter ranks: rank k submits k·δ after delivery (if nobody has won yet). */
  submitStaggerMs: number
  /** Accepted clock difference on signed requests. */
  requestSkewMs: number
}

function scaled (name: EnvironmentName, epochMs: number, sampleIntervalMs: number): Environment {
  return {
    name,
    epochMs,
    sampleIntervalMs,
    reportDeadlineMs: Math.round(epochMs * 0.5),
    proposerStaggerMs: Math.round(epochMs * 0.1),
    epochDeadlineMs: epochMs * 3,
    submitStaggerMs: Math.round(epochMs * 0.05),
    requestSkewMs: Math.max(30_000, epochMs)
  }
}

export const ENVIRONMENTS: Record<EnvironmentName, Environment> = {
  testing: scaled('testing', 2_000, 200),
  development: scaled('development', 10_000, 1_000),
  production: scaled('production', 3_600_000, 60_000)
}

/** A preset with a different epoch length: every derived timeout scales with it. */
export function environmentWithEpoch (name: EnvironmentName, epochMs?: number): Environment {
  const base = ENVIRONMENTS[name]
  if (epochMs == null || epochMs === base.epochMs) return base
  return scaled(name, epochMs, Math.max(50, Math.round(base.sampleIntervalMs * epochMs / base.epochMs)))
}

export interface EpochWindow {
  epoch: number
  startMs: number
  endMs: number
}

/** Epoch e (1-based) covers [genesis + (e−1)·len, genesis + e·len). */
export function epochWindow (genesisMs: number, epochMs: number, epoch: number): EpochWindow {
  const startMs = genesisMs + (epoch - 1) * epochMs
  return { epoch, startMs, endMs: startMs + epochMs }
}

/** The epoch running at `now` (0 before genesis). */
export function epochAt (genesisMs: number, epochMs: number, now: number): number {
  return now < genesisMs ? 0 : Math.floor((now - genesisMs) / epochMs) + 1
}
