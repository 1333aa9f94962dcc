import { equalBytes, toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import type { Block, ClientMessage } from '../block/types.js'
import { reject, type Application, type DeliveredBlock, type Verdict } from '../broadcast/application.js'
import { epochAt, epochWindow } from '../epochs/environment.js'
import type { EpochRecordJson, ParametersJson } from '../epochs/record.js'
import { ConditionWaiters } from '../util/condition.js'
import { AbortError, errorMessage } from '../util/errors.js'
import { sleep } from '../util/time.js'
import type { EpochInfoJson } from './coordinator-client.js'
import { ReportPool, REPORTS_TOPIC } from './report-pool.js'
import { ChunkDuties } from './chunk-duties.js'
import { ProgressStore, type EpochProgress, type EpochState } from './epoch-progress.js'
import { CoordinatorLink } from './coordinator-link.js'
import { MetricsStore, sampleUptimes, seedFromBytes, type SimulatorOptions } from './simulator.js'
import { advanceProgress, type Fault, type RewardsContext, type RewardsModules, type RewardsOptions } from './context.js'
import { EpochBlocks } from './epoch-blocks.js'
import { checkRewardsBlock } from './block-check.js'
import { runEpoch } from './epoch-pipeline.js'
import { catchUp } from './catch-up.js'
import { officialRecord } from './official.js'
import { equivocationEvidence, EvidenceSubmitter } from './evidence-submitter.js'
import { epochLeader, ProposerTiming } from './proposer-timing.js'
import { reportEvidence, type EvidenceJson } from '../epochs/evidence.js'

export { REPORTS_TOPIC, REPORTS_PROTOCOL } from './report-pool.js'
export type { EpochProgress, EpochState } from './epoch-progress.js'
export type { Fault, RewardsModules, RewardsOptions } from './context.js'

/** How many past epochs housekeeping revisits (missed or failed ones adopt the official record). */
const CATCH_UP_EPOCHS = 10
/** Epochs kept in memory (reports, delivered blocks, echo marks) behind the current one. */
const MEMORY_EPOCHS = 5
/**
 * RBC rounds (= epochs) this many behind the current epoch are closed in the broadcast engine: no
 * vote is cast or state kept for them any more (their blocks still arrive by sync).
 */
const OPEN_ROUNDS = CATCH_UP_EPOCHS + 2
const TERMINAL: ReadonlySet<EpochState> = new Set(['committed', 'failed'])
/** A node outside the committee asks to join at most this often (in epochs). */
const JOIN_EVERY_EPOCHS = 10

/**
 * The rewards application of one node (its composition and lifecycle): samples simulated uptime,
 * starts the persisted pipeline of every epoch at the epoch's end (src/rewards/epoch-pipeline.ts),
 * catches up on missed ones (catch-up.ts) and keeps everything bounded. It is also the broadcast
 * engine's Application: checkBlock accepts only blocks of valid reports for the round's epoch,
 * from distinct members, at least the threshold of them (block-check.ts).
 */
export class RewardsService implements Application {
  readonly #ctx: RewardsContext
  #info: EpochInfoJson | undefined
  #controller: AbortController | undefined
  #tasks: Array<Promise<void>> = []
  #sampler: NodeJS.Timeout | undefined
  #housekeeping = false

  constructor (opts: RewardsOptions, modules: RewardsModules) {
    const clock = modules.clock ?? Date.now
    const committees = modules.committees
    const parameters = (epoch: number): ParametersJson | undefined => committees.parameters(epoch) ?? this.#info?.parameters
    const waiters = new ConditionWaiters(clock)
    const notify = (): void => { waiters.notify() }
    const pool = new ReportPool({
      mixnodes: opts.mixnodes,
      keepInMemoryEpochs: MEMORY_EPOCHS,
      keepStoredEpochs: CATCH_UP_EPOCHS + MEMORY_EPOCHS,
      keepEvidenceEpochs: opts.keepEpochs
    }, {
      gossip: modules.gossip,
      network: modules.network,
      db: modules.db,
      key: modules.key,
      members: (epoch) => committees.at(epoch).members,
      committee: (epoch) => committees.at(epoch).hex,
      name: (key) => committees.name(key),
      acceptsEpoch: (epoch) => this.#acceptsEpoch(epoch),
      parameters,
      onChange: notify,
      onEvidence: (first, second) => { this.#sendEvidence(reportEvidence(first, second)) },
      logger: modules.logger
    })
    this.#ctx = {
      opts,
      m: modules,
      clock,
      self: toHex(modules.key.publicKey),
      committees,
      pool,
      blocks: new EpochBlocks(notify),
      progress: new ProgressStore(modules.db, { keepInMemory: 50, keepStored: opts.keepEpochs }),
      waiters,
      link: new CoordinatorLink({ client: modules.client, db: modules.db, committees, mixnodes: opts.mixnodes, mode: opts.standalone ? 'standalone' : 'consensus', logger: modules.logger }),
      duties: new ChunkDuties({ client: modules.client, key: modules.key, committee: (epoch) => committees.committee(epoch), logger: modules.logger, clock }),
      metrics: new MetricsStore(modules.db),
      evidence: new EvidenceSubmitter(modules.client, modules.logger, modules.onEvidence),
      timing: new ProposerTiming(),
      info: () => this.#info,
      parameters,
      threshold: (epoch) => parameters(epoch)?.rewardsThreshold ?? committees.at(epoch).q
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async start (): Promise<void> {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    const signal = this.#controller.signal
    const { opts, m } = this.#ctx
    if (!opts.standalone) await this.#ctx.pool.start()
    if (opts.fault !== 'none') m.logger.warn({ fault: opts.fault }, 'TEST FAULT MODE: this node misbehaves on purpose')
    await this.#loadProgress()
    // conflicting signed proposals and READYs seen by the broadcast engine are evidence too
    this.#offEquivocation = m.engine.onEquivocation((e) => { this.#sendEvidence(equivocationEvidence(e)) })
    this.#tasks.push(this.#run(signal))
  }

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    this.#offEquivocation?.()
    clearInterval(this.#sampler)
    this.#ctx.waiters.notify()
    if (!this.#ctx.opts.standalone) await this.#ctx.pool.stop()
    await Promise.allSettled(this.#tasks)
    this.#controller = undefined
  }

  /** After a restart: the recent pipeline states, the reports collected for them, and which evidence is kept. */
  async #loadProgress (): Promise<void> {
    const loaded = await this.#ctx.progress.load()
    for (const p of loaded) {
      // nothing runs these any more; catch-up adopts the coordinator's record for them
      if (!TERMINAL.has(p.state)) await advanceProgress(this.#ctx, p, 'failed', { reason: `interrupted in state ${p.state} by a restart` })
    }
    await this.#ctx.pool.load((loaded[0]?.epoch ?? 0) - MEMORY_EPOCHS)
  }

  /** Connects to the coordinator (retrying), checks it agrees on committee and mixnodes, then runs epochs. */
  async #run (signal: AbortSignal): Promise<void> {
    const { link, m } = this.#ctx
    try {
      this.#info = await link.connect(signal)
      if (signal.aborted) return
      this.#startSampling(this.#info)
      for (;;) {
        const now = this.#ctx.clock()
        const epoch = epochAt(this.#info.genesisMs, this.#info.epochMs, now)
        const window = epochWindow(this.#info.genesisMs, this.#info.epochMs, Math.max(1, epoch))
        await sleep(Math.max(0, window.endMs - now), signal)
        // the committees of the open epochs and the next two are the engine's peers
        this.#ctx.committees.setEpoch(window.epoch + 1, OPEN_ROUNDS)
        // outside an epoch's committee this node neither reports nor votes: it adopts the record (catch-up)
        const member = this.#ctx.committees.isMember(window.epoch, this.#ctx.self)
        if (member && !this.#ctx.progress.has(window.epoch)) {
          const task = runEpoch(this.#ctx, window.epoch, signal)
            .catch((err: unknown) => { m.logger.error({ epoch: window.epoch, err: errorMessage(err) }, 'epoch pipeline crashed') })
          this.#tasks.push(task)
          void task.finally(() => { this.#tasks = this.#tasks.filter((t) => t !== task) })
        }
        // housekeeping must never delay the next epoch (the coordinator may be slow or down), nor
        // take the machine's CPU and the coordinator's from the epoch that has just ended: it runs
        // halfway through the epoch that has just begun, when the ended one's pipeline is done or
        // waiting
        if (!this.#housekeeping) {
          this.#housekeeping = true
          void sleep(Math.round(this.#info.epochMs / 2), signal)
            .then(async () => { await link.refresh(signal) })
            .then(() => { this.#info = link.info ?? this.#info })
            .then(async () => { await this.#prune(window.epoch) })
            .then(async () => { await catchUp(this.#ctx, window.epoch, CATCH_UP_EPOCHS, signal) })
            .then(async () => { await this.#joinIfOutside(window.epoch + 1, signal) })
            .then(async () => { await this.#ctx.evidence.flush(signal) })
            .catch((err: unknown) => { if (!signal.aborted) m.logger.debug({ err: errorMessage(err) }, 'rewards housekeeping failed') })
            .finally(() => { this.#housekeeping = false })
        }
      }
    } catch (err) {
      if (!(err instanceof AbortError)) m.logger.error({ err: errorMessage(err) }, 'rewards loop stopped')
    }
  }

  /**
   * A node outside the newest committee, not queued and not banned, asks to join (addToQueue) at
   * most once every JOIN_EVERY_EPOCHS epochs: at its first start, and when it returns after a drop.
   */
  async #joinIfOutside (current: number, signal: AbortSignal): Promise<void> {
    const { committees, self, m, opts } = this.#ctx
    if (!opts.autoJoin || opts.standalone || committees.isMember(current + 2, self) || committees.waiting(self) || committees.banned(self)) return
    if (this.#lastJoin != null && current - this.#lastJoin < JOIN_EVERY_EPOCHS) return
    this.#lastJoin = current
    try {
      const answer = await m.client.join({ name: committees.name(self) ?? this.#ctx.opts.name, multiaddrs: committees.selfAddresses() }, signal)
      m.logger.info({ status: answer.status, position: answer.position }, 'asked the coordinator to join the committee')
    } catch (err) {
      if (!signal.aborted) m.logger.warn({ err: errorMessage(err) }, 'could not join the committee\'s queue (retrying later)')
    }
  }

  #lastJoin: number | undefined
  #offEquivocation: (() => void) | undefined

  /** Sends equivocation evidence to the coordinator in the background (it bans the signer). */
  #sendEvidence (evidence: EvidenceJson): void {
    const signal = this.#controller?.signal
    if (signal == null || this.#ctx.opts.standalone) return
    const task = this.#ctx.evidence.submit(evidence, signal).catch((err: unknown) => { this.#ctx.m.logger.debug({ err: errorMessage(err) }, 'evidence not sent') })
    this.#tasks.push(task)
    void task.finally(() => { this.#tasks = this.#tasks.filter((t) => t !== task) })
  }

  #startSampling (info: EpochInfoJson): void {
    const { opts, m, clock, metrics } = this.#ctx
    const sim: SimulatorOptions = { ...opts.simulator, mixnodes: opts.mixnodes, nodeSeed: seedFromBytes(m.key.publicKey) }
    const tick = (): void => {
      const now = clock()
      metrics.record(now, sampleUptimes(sim, now)).catch((err: unknown) => { m.logger.warn({ err: errorMessage(err) }, 'could not store a metrics sample') })
    }
    tick()
    this.#sampler = setInterval(tick, info.environment.sampleIntervalMs)
    this.#sampler.unref()
  }

  /** Everything kept per epoch stays bounded: memory to the last few epochs, storage to the retention. */
  async #prune (epoch: number): Promise<void> {
    if (this.#info == null) return
    const keepFrom = epochWindow(this.#info.genesisMs, this.#info.epochMs, Math.max(1, epoch - 3)).startMs
    await this.#ctx.metrics.prune(keepFrom)
    await this.#ctx.pool.prune(epoch)
    this.#ctx.blocks.pruneBelow(epoch - MEMORY_EPOCHS)
    await this.#ctx.progress.prune(epoch)
    if (!this.#ctx.opts.standalone) await this.#ctx.m.engine.closeRoundsBelow(epoch - OPEN_ROUNDS)
  }

  /** Whether reports for `epoch` are still of interest: ended (or about to, allowing skew), and recent. */
  #acceptsEpoch (epoch: number): boolean {
    if (this.#info == null) return false
    const current = epochAt(this.#info.genesisMs, this.#info.epochMs, this.#ctx.clock() + 2_000)
    return epoch >= current - 3 && epoch <= current
  }

  // ---- reading ------------------------------------------------------------------------------

  /** Sizes of what this service keeps, for diagnostics and tests of the bounds. */
  memoryStats (): { delivered: number, echoed: number, progress: number, pool: ReturnType<ReportPool['stats']> } {
    return { ...this.#ctx.blocks.stats(), progress: this.#ctx.progress.size, pool: this.#ctx.pool.stats() }
  }

  status (): { coordinator: string, connected: boolean, problem?: string, epoch?: number, epochMs?: number, threshold: number, mode: string, fault: Fault, recent: EpochProgress[] } {
    const { m, link, opts } = this.#ctx
    const epoch = this.#info == null ? undefined : epochAt(this.#info.genesisMs, this.#info.epochMs, this.#ctx.clock())
    return {
      coordinator: m.client.baseUrl,
      connected: link.connected,
      problem: link.problem,
      epoch,
      epochMs: this.#info?.epochMs,
      threshold: this.#ctx.threshold(epoch ?? 1),
      mode: opts.standalone ? 'standalone' : 'consensus',
      fault: opts.fault,
      recent: this.#ctx.progress.recent(20)
    }
  }

  async epoch (epoch: number): Promise<{ progress?: EpochProgress, official?: EpochRecordJson }> {
    return { progress: this.#ctx.progress.get(epoch), official: await officialRecord(this.#ctx.m.db, epoch) }
  }

  reports (epoch: number): ClientMessage[] {
    return this.#ctx.pool.messages(epoch)
  }

  /** The most recent report equivocation evidence, newest first. */
  async evidence (limit = 100): Promise<Array<{ epoch: number, sender: string, message: ClientMessage }>> {
    return await this.#ctx.pool.evidence(limit)
  }

  // ---- Application (hooks of the broadcast engine) ------------------------------------------

  checkTx (): Verdict {
    return reject(`this node runs the rewards application: it takes no client messages (reports travel on ${REPORTS_TOPIC})`)
  }

  checkBlock (block: Block): Verdict {
    const epoch = block.header.round
    return checkRewardsBlock(block, { parameters: this.#ctx.parameters(epoch), committee: this.#ctx.committees.at(epoch).hex, threshold: this.#ctx.threshold(epoch), checked: (m) => this.#ctx.pool.holdsChecked(epoch, m) })
  }

  /** The engine echoed another member's valid block: this node need not propose its own for the epoch. */
  onEcho (block: Block): void {
    if (equalBytes(block.header.creator, this.#ctx.m.key.publicKey)) return
    this.#ctx.blocks.markEchoed(block.header.round)
    // the pipeline waits on "delivered or echoed" while its proposer rank runs (epoch-pipeline.ts)
    this.#ctx.waiters.notify()
  }

  async deliverBlock (delivered: DeliveredBlock): Promise<void> {
    const epoch = delivered.block.header.round
    this.#sampleLeaderBlock(epoch, delivered)
    if (!this.#ctx.blocks.deliver(epoch, delivered)) return
    // reports carried by the block count as collected too
    for (const m of delivered.block.messages) {
      if (!this.#ctx.pool.has(epoch, m.publicKey)) await this.#ctx.pool.add(epoch, m, toHex(messageId(m)))
    }
  }

  /**
   * The epoch's leader's block, delivered here (first or after a fallback proposer's): how long
   * after this node's report threshold, a sample for the proposer stagger (proposer-timing.ts).
   * Not when this node had no threshold yet, nor past the epoch deadline (a block certified that
   * late, e.g. by sync after a restart, measures no RBC).
   */
  #sampleLeaderBlock (epoch: number, delivered: DeliveredBlock): void {
    const thresholdAt = this.#ctx.progress.get(epoch)?.times.thresholdAt
    const deadlineMs = this.#info?.environment.epochDeadlineMs
    if (thresholdAt == null || deadlineMs == null) return
    if (toHex(delivered.block.header.creator) !== epochLeader(this.#ctx.committees.memberKeys(epoch), epoch)) return
    const ms = this.#ctx.clock() - thresholdAt
    if (ms <= deadlineMs) this.#ctx.timing.record(ms)
  }
}
