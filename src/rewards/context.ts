import type { BroadcastEngine, BroadcastMember } from '../broadcast/index.js'
import type { NodeKey } from '../crypto/keys.js'
import { epochWindow } from '../epochs/environment.js'
import type { EpochRecordJson, ParametersJson } from '../epochs/record.js'
import type { EpochCommittees } from './epoch-committees.js'
import type { EvidenceEvent, EvidenceSubmitter } from './evidence-submitter.js'
import type { Gossip, PeerNetwork } from '../network/peers.js'
import type { Database } from '../storage/index.js'
import type { ConditionWaiters } from '../util/condition.js'
import type { CrashPoints } from '../util/crash-points.js'
import type { Logger } from '../util/logger.js'
import type { ChunkDuties } from './chunk-duties.js'
import type { CoordinatorClient, EpochInfoJson } from './coordinator-client.js'
import type { CoordinatorLink } from './coordinator-link.js'
import type { EpochBlocks } from './epoch-blocks.js'
import type { EpochProgress, EpochState, ProgressStore } from './epoch-progress.js'
import type { ProposerTiming } from './proposer-timing.js'
import type { ReportPool } from './report-pool.js'
import type { MetricsStore, SimulatorOptions } from './simulator.js'

export type Fault = 'none' | 'skewed' | 'silent' | 'equivocate'

export interface RewardsOptions {
  /** Propose blocks (false: a voter only, like broadcast.produce_blocks = false). */
  propose: boolean
  mixnodes: number
  simulator: Omit<SimulatorOptions, 'mixnodes' | 'nodeSeed'>
  fault: Fault
  standalone: boolean
  /** Pipeline states and report evidence of epochs this many behind the current one are deleted. */
  keepEpochs: number
  /** Ask the coordinator to join the committee when outside it (at start, after a drop). */
  autoJoin: boolean
  /** This node's name (what it registers under when it joins). */
  name: string
}

export interface RewardsModules {
  engine: BroadcastEngine
  network: PeerNetwork
  gossip: Gossip
  key: NodeKey
  members: readonly BroadcastMember[]
  db: Database
  client: CoordinatorClient
  /** The committee of each epoch (shared with the broadcast engine and the connection gater). */
  committees: EpochCommittees
  logger: Logger
  clock?: () => number
  /** TEST ONLY: kill -9 on entering a pipeline state (src/util/crash-points.ts). */
  crash?: CrashPoints
  /** Told about every stored pipeline state (metrics). */
  observe?: (p: EpochProgress) => void
  /** Told about every official record once adopted (verified and stored) (WebSocket `epoch` frames). */
  onAdopted?: (record: EpochRecordJson) => void
  /** Told about equivocation evidence detected, sent or dropped (WebSocket `evidence` frames). */
  onEvidence?: (event: EvidenceEvent) => void
}

/** The parts of one node's rewards application, shared by the epoch pipeline, catch-up and the block checks. */
export interface RewardsParts {
  readonly opts: RewardsOptions
  readonly m: RewardsModules
  readonly clock: () => number
  /** This node's public key, hex. */
  readonly self: string
  readonly committees: EpochCommittees
  readonly pool: ReportPool
  readonly blocks: EpochBlocks
  readonly progress: ProgressStore
  readonly waiters: ConditionWaiters
  readonly link: CoordinatorLink
  readonly duties: ChunkDuties
  readonly metrics: MetricsStore
  readonly evidence: EvidenceSubmitter
  /** The proposer stagger, from the RBC time measured here (proposer-timing.ts). */
  readonly timing: ProposerTiming
}

/** The rewards context: its parts plus what changes as the coordinator is followed. */
export interface RewardsContext extends RewardsParts {
  /** The coordinator's epoch info, once reached. */
  info: () => EpochInfoJson | undefined
  /** The aggregation parameters of an epoch: its committee's, or the coordinator's announced ones. */
  parameters: (epoch: number) => ParametersJson | undefined
  /** Reports a block of the epoch needs: the coordinator's rewards threshold (its committee's quorum until it is known). */
  threshold: (epoch: number) => number
}

/** Stores a pipeline state and wakes whoever waits on it. */
export async function saveProgress (ctx: RewardsContext, p: EpochProgress): Promise<void> {
  await ctx.progress.put(p)
  ctx.waiters.notify()
}

/** Moves an epoch's pipeline to `state` (stored before anything else happens). */
export async function advanceProgress (ctx: RewardsContext, p: EpochProgress, state: EpochState, changes: Partial<EpochProgress> = {}): Promise<void> {
  Object.assign(p, changes, { state })
  await saveProgress(ctx, p)
  ctx.m.observe?.(p)
  ctx.m.crash?.reached(state, p.epoch)
  ctx.m.logger.debug({ epoch: p.epoch, state }, 'epoch state')
}

/**
 * advanceProgress for a pipeline that goes on while the state is being stored (the state is in
 * memory, and so in the API, at once; writes land in order): the caller awaits the result before
 * it returns. A failed write stops the node through its database either way.
 */
export function advanceProgressMeanwhile (ctx: RewardsContext, p: EpochProgress, state: EpochState, changes: Partial<EpochProgress> = {}): Promise<void> {
  const stored = advanceProgress(ctx, p, state, changes)
  stored.catch(() => {})
  return stored
}

/** A fresh pipeline state for an epoch (the coordinator's info must be known). */
export function newProgress (ctx: RewardsContext, epoch: number, state: EpochState): EpochProgress {
  const info = ctx.info() as EpochInfoJson
  const window = epochWindow(info.genesisMs, info.epochMs, epoch)
  return { epoch, state, startMs: window.startMs, endMs: window.endMs, reporters: [], times: {} }
}
