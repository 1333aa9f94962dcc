import { isDeepStrictEqual } from 'node:util'
import { compareBytes, equalBytes, toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import { peerIdOf } from '../block/json.js'
import type { Block, ClientMessage } from '../block/types.js'
import { ACCEPT, reject, type Application, type DeliveredBlock, type Verdict } from '../broadcast/application.js'
import type { BroadcastEngine, BroadcastMember } from '../broadcast/index.js'
import { epochAt, epochWindow } from '../epochs/environment.js'
import { standaloneSubmission, verifyRecord, type CommitteeJson, type EpochRecordJson, type SubmissionJson } from '../epochs/record.js'
import { verifySignature, type NodeKey } from '../crypto/keys.js'
import type { Gossip, PeerNetwork } from '../network/peers.js'
import { Bucket, jsonBytes, parseJsonBytes, type Database } from '../storage/index.js'
import { AbortError, EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { CrashPoints } from '../util/crash-points.js'
import { sleep } from '../util/time.js'
import type { CoordinatorClient, EpochInfoJson } from './coordinator-client.js'
import { checkReportMessage, MAX_VALUE, MISSING, parametersId, reportMessage, type Report } from '../epochs/report.js'
import { ReportPool } from './report-pool.js'
import { ChunkDuties } from './chunk-duties.js'
import { ProgressStore, type EpochProgress, type EpochState } from './epoch-progress.js'
import { submitUntilDecided } from './whole-submission.js'
import { CoordinatorLink } from './coordinator-link.js'
import { MetricsStore, sampleUptimes, seedFromBytes, type SimulatorOptions } from './simulator.js'

import { REPORTS_TOPIC } from './report-pool.js'
export { REPORTS_TOPIC, REPORTS_PROTOCOL } from './report-pool.js'

export type Fault = 'none' | 'skewed' | 'silent' | 'equivocate'
export type { EpochProgress, EpochState } from './epoch-progress.js'

export interface RewardsOptions {
  /** Propose blocks (false: a voter only, like broadcast.produce_blocks = false). */
  propose: boolean
  mixnodes: number
  simulator: Omit<SimulatorOptions, 'mixnodes' | 'nodeSeed'>
  fault: Fault
  standalone: boolean
  /** Pipeline states and report evidence of epochs this many behind the current one are deleted. */
  keepEpochs: number
}

export interface RewardsModules {
  engine: BroadcastEngine
  network: PeerNetwork
  gossip: Gossip
  key: NodeKey
  members: readonly BroadcastMember[]
  db: Database
  client: CoordinatorClient
  logger: Logger
  clock?: () => number
  /** TEST ONLY: kill -9 on entering a pipeline state (src/util/crash-points.ts). */
  crash?: CrashPoints
}

const pad = (n: number): string => String(n).padStart(16, '0')
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

/**
 * The rewards application of one node: samples simulated uptime, and for every epoch runs the
 * persisted pipeline idle → computing → gossiping → broadcasting → submitting → committed (or
 * failed, with the reason). It is also the broadcast engine's Application: checkBlock accepts
 * only blocks of valid reports for the round's epoch, from distinct members, at least the
 * threshold of them.
 */
export class RewardsService implements Application {
  readonly #opts: RewardsOptions
  readonly #m: RewardsModules
  readonly #clock: () => number
  readonly #metrics: MetricsStore
  readonly #committee: CommitteeJson
  readonly #committeeSet: ReadonlySet<string>
  readonly #names: Map<string, string>
  readonly #selfIndex: number
  readonly #pool: ReportPool
  readonly #duties: ChunkDuties
  readonly #link: CoordinatorLink
  readonly #delivered = new Map<number, DeliveredBlock>()
  readonly #echoedValid = new Set<number>()
  readonly #progress: ProgressStore
  readonly #waiters = new Set<() => void>()
  #info: EpochInfoJson | undefined
  #controller: AbortController | undefined
  #tasks: Array<Promise<void>> = []
  #sampler: NodeJS.Timeout | undefined
  #housekeeping = false

  constructor (opts: RewardsOptions, modules: RewardsModules) {
    this.#opts = opts
    this.#m = modules
    this.#clock = modules.clock ?? Date.now
    this.#metrics = new MetricsStore(modules.db)
    this.#progress = new ProgressStore(modules.db, { keepInMemory: 50, keepStored: opts.keepEpochs })
    const sorted = [...modules.members].sort((a, b) => compareBytes(a.publicKey, b.publicKey))
    this.#committee = {
      membershipId: toHex(modules.engine.membershipId),
      members: sorted.map((m) => ({ name: m.name, peerId: peerIdOf(m.publicKey), publicKey: toHex(m.publicKey) }))
    }
    this.#committeeSet = new Set(sorted.map((m) => toHex(m.publicKey)))
    this.#names = new Map(sorted.map((m) => [toHex(m.publicKey), m.name]))
    this.#selfIndex = sorted.findIndex((m) => equalBytes(m.publicKey, modules.key.publicKey))
    this.#link = new CoordinatorLink({ client: modules.client, db: modules.db, committee: this.#committee, mixnodes: opts.mixnodes, mode: opts.standalone ? 'standalone' : 'consensus', logger: modules.logger })
    this.#duties = new ChunkDuties({ client: modules.client, key: modules.key, committee: this.#committee, logger: modules.logger, clock: this.#clock })
    this.#pool = new ReportPool({
      mixnodes: opts.mixnodes,
      keepInMemoryEpochs: MEMORY_EPOCHS,
      keepStoredEpochs: CATCH_UP_EPOCHS + MEMORY_EPOCHS,
      keepEvidenceEpochs: opts.keepEpochs
    }, {
      gossip: modules.gossip,
      network: modules.network,
      db: modules.db,
      key: modules.key,
      members: modules.members,
      committee: this.#committeeSet,
      names: this.#names,
      acceptsEpoch: (epoch) => this.#acceptsEpoch(epoch),
      parameters: () => this.#info?.parameters,
      onChange: () => { this.#notify() },
      logger: modules.logger
    })
  }

  get #threshold (): number {
    return this.#info?.parameters.rewardsThreshold ?? this.#m.engine.quorum
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async start (): Promise<void> {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    const signal = this.#controller.signal
    if (!this.#opts.standalone) await this.#pool.start()
    if (this.#opts.fault !== 'none') this.#m.logger.warn({ fault: this.#opts.fault }, 'TEST FAULT MODE: this node misbehaves on purpose')
    await this.#loadProgress()
    this.#tasks.push(this.#run(signal))
  }

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    clearInterval(this.#sampler)
    this.#notify()
    if (!this.#opts.standalone) await this.#pool.stop()
    await Promise.allSettled(this.#tasks)
    this.#controller = undefined
  }

  /** Connects to the coordinator (retrying), checks it agrees on committee and mixnodes, then runs epochs. */
  async #run (signal: AbortSignal): Promise<void> {
    try {
      this.#info = await this.#link.connect(signal)
      if (signal.aborted) return
      this.#startSampling(this.#info)
      for (;;) {
        const now = this.#clock()
        const epoch = epochAt(this.#info.genesisMs, this.#info.epochMs, now)
        const window = epochWindow(this.#info.genesisMs, this.#info.epochMs, Math.max(1, epoch))
        await sleep(Math.max(0, window.endMs - now), signal)
        if (!this.#progress.has(window.epoch)) {
          const task = this.#runEpoch(window.epoch, signal)
            .catch((err: unknown) => { this.#m.logger.error({ epoch: window.epoch, err: errorMessage(err) }, 'epoch pipeline crashed') })
          this.#tasks.push(task)
          void task.finally(() => { this.#tasks = this.#tasks.filter((t) => t !== task) })
        }
        // housekeeping must never delay the next epoch (the coordinator may be slow or down)
        if (!this.#housekeeping) {
          this.#housekeeping = true
          void this.#link.refresh(signal)
            .then(() => { this.#info = this.#link.info ?? this.#info })
            .then(async () => { await this.#prune(window.epoch) })
            .then(async () => { await this.#catchUp(window.epoch, signal) })
            .catch((err: unknown) => { if (!signal.aborted) this.#m.logger.debug({ err: errorMessage(err) }, 'rewards housekeeping failed') })
            .finally(() => { this.#housekeeping = false })
        }
      }
    } catch (err) {
      if (!(err instanceof AbortError)) this.#m.logger.error({ err: errorMessage(err) }, 'rewards loop stopped')
    }
  }

  #startSampling (info: EpochInfoJson): void {
    const sim: SimulatorOptions = { ...this.#opts.simulator, mixnodes: this.#opts.mixnodes, nodeSeed: seedFromBytes(this.#m.key.publicKey) }
    const tick = (): void => {
      const now = this.#clock()
      this.#metrics.record(now, sampleUptimes(sim, now)).catch((err: unknown) => { this.#m.logger.warn({ err: errorMessage(err) }, 'could not store a metrics sample') })
    }
    tick()
    this.#sampler = setInterval(tick, info.environment.sampleIntervalMs)
    this.#sampler.unref()
  }

  /** Everything kept per epoch stays bounded: memory to the last few epochs, storage to the retention. */
  async #prune (epoch: number): Promise<void> {
    if (this.#info == null) return
    const keepFrom = epochWindow(this.#info.genesisMs, this.#info.epochMs, Math.max(1, epoch - 3)).startMs
    await this.#metrics.prune(keepFrom)
    await this.#pool.prune(epoch)
    for (const e of this.#delivered.keys()) if (e < epoch - MEMORY_EPOCHS) this.#delivered.delete(e)
    for (const e of this.#echoedValid) if (e < epoch - MEMORY_EPOCHS) this.#echoedValid.delete(e)
    await this.#progress.prune(epoch)
    if (!this.#opts.standalone) await this.#m.engine.closeRoundsBelow(epoch - OPEN_ROUNDS)
  }

  /** Sizes of what this service keeps, for diagnostics and tests of the bounds. */
  memoryStats (): { delivered: number, echoed: number, progress: number, pool: ReturnType<ReportPool['stats']> } {
    return { delivered: this.#delivered.size, echoed: this.#echoedValid.size, progress: this.#progress.size, pool: this.#pool.stats() }
  }

  // ---- waiting ------------------------------------------------------------------------------

  #notify (): void {
    for (const wake of [...this.#waiters]) wake()
  }

  /** Resolves true once `condition` holds, false at `deadline` (ms since the Unix epoch). */
  async #until (condition: () => boolean, deadline: number, signal: AbortSignal): Promise<boolean> {
    while (!condition()) {
      const left = deadline - this.#clock()
      if (left <= 0) return false
      if (signal.aborted) throw new AbortError()
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer)
          this.#waiters.delete(done)
          signal.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, left)
        this.#waiters.add(done)
        signal.addEventListener('abort', done, { once: true })
      })
    }
    return true
  }

  // ---- progress -----------------------------------------------------------------------------

  /** After a restart: the recent pipeline states, the reports collected for them, and which evidence is kept. */
  async #loadProgress (): Promise<void> {
    const loaded = await this.#progress.load()
    for (const p of loaded) {
      // nothing runs these any more; catch-up adopts the coordinator's record for them
      if (!TERMINAL.has(p.state)) await this.#advance(p, 'failed', { reason: `interrupted in state ${p.state} by a restart` })
    }
    await this.#pool.load((loaded[0]?.epoch ?? 0) - MEMORY_EPOCHS)
  }

  async #save (p: EpochProgress): Promise<void> {
    await this.#progress.put(p)
    this.#notify()
  }

  async #advance (p: EpochProgress, state: EpochState, changes: Partial<EpochProgress> = {}): Promise<void> {
    Object.assign(p, changes, { state })
    await this.#save(p)
    this.#m.crash?.reached(state, p.epoch)
    this.#m.logger.debug({ epoch: p.epoch, state }, 'epoch state')
  }

  /**
   * Catches up on recent epochs: one this node missed (it was down at the epoch's end) or failed
   * (e.g. the coordinator was unreachable at the deadline) adopts the coordinator's record once it
   * has one; a failed epoch for which this node holds a certified block is submitted again while
   * the coordinator has no record. So every node ends up with the same official results.
   */
  async #catchUp (current: number, signal: AbortSignal): Promise<void> {
    const info = this.#info
    if (info == null || this.#link.problem != null) return
    for (let epoch = Math.max(1, current - CATCH_UP_EPOCHS); epoch < current; epoch++) {
      const p = this.#progress.get(epoch)
      if (p != null && p.state !== 'failed') continue
      const record = await this.#m.client.record(epoch, signal)
      const progress = p ?? this.#newProgress(epoch, 'idle')
      try {
        if (record != null) {
          await this.#adopt(progress, record, 'learned-from-coordinator')
        } else if (p != null && !this.#opts.standalone && this.#delivered.has(epoch)) {
          this.#m.logger.info({ epoch }, 'taking part in the epoch\'s round again after a failure here')
          await this.#commitByChunks(progress, this.#delivered.get(epoch) as DeliveredBlock, signal)
        }
      } catch (err) {
        if (signal.aborted) return
        if (p != null) p.reason = errorMessage(err)
        this.#m.logger.warn({ epoch, err: errorMessage(err) }, 'could not catch up on an epoch')
      }
    }
  }

  #newProgress (epoch: number, state: EpochState): EpochProgress {
    const info = this.#info as EpochInfoJson
    const window = epochWindow(info.genesisMs, info.epochMs, epoch)
    return { epoch, state, startMs: window.startMs, endMs: window.endMs, reporters: [], times: {} }
  }

  status (): { coordinator: string, connected: boolean, problem?: string, epoch?: number, epochMs?: number, threshold: number, mode: string, fault: Fault, recent: EpochProgress[] } {
    return {
      coordinator: this.#m.client.baseUrl,
      connected: this.#link.connected,
      problem: this.#link.problem,
      epoch: this.#info == null ? undefined : epochAt(this.#info.genesisMs, this.#info.epochMs, this.#clock()),
      epochMs: this.#info?.epochMs,
      threshold: this.#threshold,
      mode: this.#opts.standalone ? 'standalone' : 'consensus',
      fault: this.#opts.fault,
      recent: this.#progress.recent(20)
    }
  }

  async epoch (epoch: number): Promise<{ progress?: EpochProgress, official?: EpochRecordJson }> {
    const raw = await this.#m.db.bucket(Bucket.official).get(pad(epoch))
    return { progress: this.#progress.get(epoch), official: raw == null ? undefined : parseJsonBytes<EpochRecordJson>(raw) }
  }

  reports (epoch: number): ClientMessage[] {
    return this.#pool.messages(epoch)
  }

  // ---- the pipeline -------------------------------------------------------------------------

  async #runEpoch (epoch: number, signal: AbortSignal): Promise<void> {
    const info = this.#info as EpochInfoJson
    const env = info.environment
    const window = epochWindow(info.genesisMs, info.epochMs, epoch)
    const p = this.#newProgress(epoch, 'computing')
    await this.#save(p)
    this.#m.crash?.reached('computing', epoch)
    try {
      if (this.#link.problem != null) throw new EphemeraError(ErrorCode.CONFIG_INVALID, this.#link.problem)
      // computing: averages over exactly [start, end)
      const { values, samples } = await this.#metrics.averages(window.startMs, window.endMs, this.#opts.mixnodes)
      const report: Report = { version: 2, epoch, sender: this.#m.key.publicKey, commitment: parametersId(info.parameters), values: this.#opts.fault === 'skewed' ? values.map((v) => (v === MISSING ? v : MAX_VALUE)) : values }
      const message = reportMessage(report, (b) => this.#m.key.sign(b), this.#clock())
      const own = toHex(messageId(message))
      // a silent node keeps its report to itself: not published, served, nor put in its blocks
      // persisted (synced) before it is published: a restart never signs a second one
      if (this.#opts.fault !== 'silent') await this.#pool.add(epoch, message, own, { own: true })
      await this.#advance(p, this.#opts.standalone ? 'submitting' : 'gossiping', { samples, ownReport: own, times: { ...p.times, computedAt: this.#clock() } })
      if (this.#opts.standalone) {
        await this.#submitAndAdopt(p, standaloneSubmission(message, info.parameters), window.endMs + env.epochDeadlineMs, signal)
        return
      }

      // gossiping: publish, collect reports from `threshold` members (ask peers directly when slow)
      if (this.#opts.fault !== 'silent') await this.#pool.publish(message)
      if (this.#opts.fault === 'equivocate') {
        const twin = reportMessage({ ...report, values: report.values.map((v) => (v === MISSING || v === 0 ? v : v - 1)) }, (b) => this.#m.key.sign(b), this.#clock())
        await this.#pool.publish(twin)
      }
      const reportDeadline = window.endMs + env.reportDeadlineMs
      const enough = (): boolean => this.#pool.count(epoch) >= this.#threshold
      if (!await this.#until(enough, window.endMs + Math.round(env.reportDeadlineMs * 0.5), signal)) {
        await this.#pool.fetchMissing(epoch, AbortSignal.any([signal, AbortSignal.timeout(Math.max(100, reportDeadline - this.#clock()))]))
      }
      const rank = this.#rank(epoch)
      let shortOfReports: string | undefined
      if (await this.#until(enough, reportDeadline, signal)) {
        await this.#advance(p, 'broadcasting', { reporters: this.#reporters(epoch), times: { ...p.times, thresholdAt: this.#clock() } })
        // broadcasting: staggered proposers. A node that echoed another member's valid block waits
        // for it to be certified (one stagger round more) before proposing its own anyway: an
        // echoed block that never completes must not silence every honest proposer.
        const delivered = (): boolean => this.#delivered.has(epoch)
        await this.#until(() => delivered() || this.#echoedValid.has(epoch), this.#clock() + rank * env.proposerStaggerMs, signal)
        if (!delivered() && this.#echoedValid.has(epoch)) await this.#until(delivered, this.#clock() + this.#committee.members.length * env.proposerStaggerMs, signal)
        if (!delivered() && this.#opts.propose) await this.#propose(p, epoch)
      } else {
        // too few reports here to propose, but others may still certify a block: keep voting and waiting
        shortOfReports = `only ${this.#pool.count(epoch)} of ${this.#threshold} reports by the report deadline`
        this.#m.logger.info({ epoch, reason: shortOfReports }, 'not proposing; waiting for a block from the other members')
        await this.#advance(p, 'broadcasting', { reporters: this.#reporters(epoch), reason: shortOfReports })
      }
      const epochDeadline = window.endMs + env.epochDeadlineMs
      if (!await this.#until(() => this.#delivered.has(epoch), epochDeadline, signal)) {
        // nothing certified reached this node; the coordinator may still have the outcome
        const record = await this.#m.client.record(epoch, signal).catch(() => undefined)
        if (record != null) {
          await this.#adopt(p, record, 'learned-from-coordinator')
          return
        }
        throw new EphemeraError(ErrorCode.TIMEOUT, `no block for the epoch was certified before the epoch deadline${shortOfReports != null ? ` (${shortOfReports})` : ''}`)
      }
      const delivered = this.#delivered.get(epoch) as DeliveredBlock
      await this.#advance(p, 'submitting', {
        reporters: this.#reporters(epoch),
        block: { hash: toHex(delivered.hash), creator: this.#names.get(toHex(delivered.block.header.creator)) ?? toHex(delivered.block.header.creator), reports: delivered.block.messages.length },
        times: { ...p.times, deliveredAt: this.#clock() }
      })

      // submitting: the round at the coordinator (leased chunks, assigned verifiers); everyone adopts its record
      await this.#commitByChunks(p, delivered, signal)
    } catch (err) {
      if (err instanceof AbortError || signal.aborted) return
      await this.#advance(p, 'failed', { reason: errorMessage(err) })
      this.#m.logger.warn({ epoch, reason: errorMessage(err) }, 'epoch failed')
    }
  }

  /** Proposer rank of this node for an epoch: the order rotates with the epoch. */
  #rank (epoch: number): number {
    const n = this.#committee.members.length
    return (this.#selfIndex - (epoch % n) + n) % n
  }

  #reporters (epoch: number): string[] {
    return this.#pool.reporters(epoch)
  }

  async #propose (p: EpochProgress, epoch: number): Promise<void> {
    const messages = this.#pool.messages(epoch)
    try {
      const { hash } = await this.#m.engine.proposeBlock({ round: epoch, messages })
      await this.#advance(p, 'broadcasting', { proposedBlock: toHex(hash) })
    } catch (err) {
      // e.g. a later epoch was proposed first: another member's block will do
      this.#m.logger.info({ epoch, err: errorMessage(err) }, 'not proposing a block for the epoch')
      await this.#advance(p, 'broadcasting', { reason: `did not propose: ${errorMessage(err)}` })
    }
  }

  /**
   * The epoch's round at the coordinator: this node uploads the chunks it is leased and verifies
   * those it is assigned until the coordinator commits the epoch (or its finalization deadline
   * passes), then adopts the record.
   */
  async #commitByChunks (p: EpochProgress, delivered: DeliveredBlock, signal: AbortSignal): Promise<void> {
    const info = this.#info as EpochInfoJson
    const env = info.environment
    const record = await this.#duties.run({
      epoch: p.epoch,
      delivered,
      parameters: info.parameters,
      deadline: p.endMs + env.finalizationEpochs * info.epochMs,
      // the longest a node waits for the round to change before it looks again
      pollMs: Math.max(100, Math.min(5_000, Math.round(env.leaseTimeoutMs / 4))),
      onProgress: (chunks) => {
        if (isDeepStrictEqual(chunks, p.chunks)) return
        p.chunks = chunks
        this.#save(p).catch(() => {})
      }
    }, signal)
    await this.#adopt(p, record, record.winner.publicKey === toHex(this.#m.key.publicKey) ? 'accepted' : 'decided-by-another')
  }

  /** The standalone baseline: this node's own report as a whole submission, then the record. */
  async #submitAndAdopt (p: EpochProgress, submission: SubmissionJson, deadline: number, signal: AbortSignal): Promise<void> {
    const { record, outcome } = await submitUntilDecided({ client: this.#m.client, epoch: p.epoch, submission, deadline, clock: this.#clock, onSubmitted: () => { p.times.submittedAt = this.#clock() } }, signal)
    await this.#adopt(p, record, outcome)
  }

  /** Verifies the coordinator's record against this node's own committee and stores it as official. */
  async #adopt (p: EpochProgress, record: EpochRecordJson, outcome?: EpochProgress['submission']): Promise<void> {
    const refuse = (why: string): never => { throw new EphemeraError(ErrorCode.VERIFY_FAILED, `the coordinator's record for epoch ${p.epoch} is not acceptable: ${why}`) }
    if (record.epoch !== p.epoch) refuse(`it is the record of epoch ${record.epoch}`)
    if (record.startMs !== p.startMs || record.endMs !== p.endMs) refuse('its epoch window differs from this node\'s')
    const expected = this.#info?.parameters
    if (expected != null && !isDeepStrictEqual(record.parameters, expected)) refuse('its parameters (mixnodes, aggregation, pool, threshold) differ from the coordinator\'s announced ones')
    // a consensus node never endorses an uncertified result, however the coordinator is configured
    if (record.submission.mode === 'standalone' && !this.#opts.standalone) refuse(`it holds an uncertified standalone submission by ${record.winner.name}`)
    let report
    try {
      report = verifyRecord(record, verifySignature, this.#committee)
    } catch (err) {
      refuse(`malformed (${errorMessage(err)})`)
    }
    if (report?.ok !== true) refuse(`it does not verify: ${report?.failure ?? ''}`)
    // durable (synced) before the epoch counts as committed here
    await this.#m.db.write([{ type: 'put', bucket: Bucket.official, key: pad(record.epoch), value: jsonBytes(record) }], { sync: true })
    const committedAt = this.#clock()
    await this.#advance(p, 'committed', {
      reason: undefined,
      submission: outcome,
      winner: record.winner.name,
      officialBlockHash: record.submission.blockHash,
      times: { ...p.times, committedAt },
      latencyMs: committedAt - p.endMs
    })
    this.#m.logger.info({ epoch: record.epoch, winner: record.winner.name, block: record.submission.blockHash, reports: record.submission.reports.length, coordinatorLatencyMs: record.latencyMs, outcome }, 'epoch committed')
  }

  // ---- reports: gossip and direct fetch -----------------------------------------------------

  /** Whether reports for `epoch` are still of interest: ended (or about to, allowing skew), and recent. */
  #acceptsEpoch (epoch: number): boolean {
    if (this.#info == null) return false
    const current = epochAt(this.#info.genesisMs, this.#info.epochMs, this.#clock() + 2_000)
    return epoch >= current - 3 && epoch <= current
  }

  /** The most recent report equivocation evidence, newest first. */
  async evidence (limit = 100): Promise<Array<{ epoch: number, sender: string, message: ClientMessage }>> {
    return await this.#pool.evidence(limit)
  }

  // ---- Application (hooks of the broadcast engine) ------------------------------------------

  checkTx (): Verdict {
    return reject(`this node runs the rewards application: it takes no client messages (reports travel on ${REPORTS_TOPIC})`)
  }

  checkBlock (block: Block): Verdict {
    const epoch = block.header.round
    // reports commit to the coordinator's parameters: without them nothing can be checked
    const parameters = this.#info?.parameters
    if (parameters == null) return reject('the coordinator has not been reached yet: its parameters are unknown')
    const senders = new Set<string>()
    for (const [i, m] of block.messages.entries()) {
      const checked = checkReportMessage(m, { epoch, committee: this.#committeeSet, parameters, verify: verifySignature })
      if (!checked.ok) return reject(`message ${i} is not a valid report for epoch ${epoch}: ${checked.reason}`)
      const sender = toHex(m.publicKey)
      if (senders.has(sender)) return reject(`message ${i} is a second report by the same member`)
      if (i > 0 && sender < toHex((block.messages[i - 1] as ClientMessage).publicKey)) return reject(`message ${i}: reports are not sorted by sender key`)
      senders.add(sender)
    }
    if (senders.size < this.#threshold) return reject(`${senders.size} reports, the threshold is ${this.#threshold}`)
    return ACCEPT
  }

  /** The engine echoed another member's valid block: this node need not propose its own for the epoch. */
  onEcho (block: Block): void {
    if (equalBytes(block.header.creator, this.#m.key.publicKey)) return
    this.#echoedValid.add(block.header.round)
    this.#notify()
  }

  async deliverBlock (delivered: DeliveredBlock): Promise<void> {
    const epoch = delivered.block.header.round
    if (this.#delivered.has(epoch)) return
    this.#delivered.set(epoch, delivered)
    this.#notify()
    // reports carried by the block count as collected too
    for (const m of delivered.block.messages) {
      if (!this.#pool.has(epoch, m.publicKey)) await this.#pool.add(epoch, m, toHex(messageId(m)))
    }
  }
}
