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
  /** Floor of the gap δ between proposer ranks (rank k proposes k·δ after its report threshold; src/rewards/proposer-timing.ts). */
  proposerStaggerMs: number
  /** After an epoch ends, how long nodes keep trying to get a block certified and submitted. */
  epochDeadlineMs: number
  /** Gap between submitter ranks: rank k submits k·δ after delivery (if nobody has won yet). */
  submitStaggerMs: number
  /** Accepted clock difference on signed requests. */
  requestSkewMs: number
  /** Mixnodes per chunk of the reward table (each chunk is uploaded and verified on its own). */
  chunkSize: number
  /** A chunk's lease holder must upload it within this long, else the lease passes on. */
  leaseTimeoutMs: number
  /** One try of an epoch's round: everything contributed and verified within this long, else rollback. */
  attemptTimeoutMs: number
  /** Members that verify each contributed chunk (at most n − 1 are used). */
  verifiersPerChunk: number
  /** An epoch not committed this many epochs after its end is marked failed. */
  finalizationEpochs: number
}

function scaled (name: EnvironmentName, epochMs: number, sampleIntervalMs: number, chunkSize: number): Environment {
  return {
    name,
    epochMs,
    sampleIntervalMs,
    reportDeadlineMs: Math.round(epochMs * 0.5),
    proposerStaggerMs: Math.round(epochMs * 0.1),
    epochDeadlineMs: epochMs * 3,
    submitStaggerMs: Math.round(epochMs * 0.05),
    requestSkewMs: Math.max(30_000, epochMs),
    chunkSize,
    leaseTimeoutMs: epochMs,
    attemptTimeoutMs: epochMs * 3,
    verifiersPerChunk: 2,
    finalizationEpochs: 10
  }
}

export const ENVIRONMENTS: Record<EnvironmentName, Environment> = {
  testing: scaled('testing', 2_000, 200, 25),
  development: scaled('development', 10_000, 1_000, 50),
  production: scaled('production', 3_600_000, 60_000, 1_000)
}

/** A preset with a different epoch length (every derived timeout scales with it) or chunk size. */
export function environmentWithEpoch (name: EnvironmentName, epochMs?: number, chunkSize?: number): Environment {
  const base = ENVIRONMENTS[name]
  const env = epochMs == null || epochMs === base.epochMs
    ? base
    : scaled(name, epochMs, Math.max(50, Math.round(base.sampleIntervalMs * epochMs / base.epochMs)), base.chunkSize)
  return chunkSize == null ? env : { ...env, chunkSize }
}

/**
 * Problems with an environment for a committee of `members` and a table of `mixnodes` rows, one
 * line each (empty when it is usable): the round lifecycle needs a lease to fit in an attempt and
 * an attempt in the finalization window. (A committee of one has nobody to verify its chunks:
 * min(verifiersPerChunk, n − 1) = 0 verifications are needed.)
 */
export function environmentProblems (env: Environment, members: number, mixnodes: number): string[] {
  const problems: string[] = []
  if (!Number.isSafeInteger(env.chunkSize) || env.chunkSize < 1) problems.push(`chunk size must be a positive integer, got ${env.chunkSize}`)
  else if (Math.ceil(mixnodes / env.chunkSize) > 1024) problems.push(`${mixnodes} mixnodes in chunks of ${env.chunkSize} make more than 1024 chunks; use larger chunks`)
  if (env.leaseTimeoutMs * 2 > env.attemptTimeoutMs) problems.push(`an attempt (${env.attemptTimeoutMs} ms) must fit at least two leases of ${env.leaseTimeoutMs} ms, so that a dead holder's chunk can pass on`)
  if (env.attemptTimeoutMs > env.finalizationEpochs * env.epochMs) problems.push(`the finalization window (${env.finalizationEpochs} epochs) is shorter than one attempt (${env.attemptTimeoutMs} ms)`)
  if (env.verifiersPerChunk < 1) problems.push('each chunk needs at least one verifier')
  if (members < 1) problems.push('the committee is empty')
  return problems
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
