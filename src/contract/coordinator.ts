import type { VerifyFn } from '../block/validate.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { epochAt, epochWindow, type Environment, type EpochWindow } from '../epochs/environment.js'
import { type CommitteeJson, type CommitteeMemberJson, type EpochRecordJson, type ParametersJson, type SubmissionJson } from '../epochs/record.js'
import type { CoordinatorStore, StoredEvidence } from './store.js'
import type { CrashPoints } from '../util/crash-points.js'
import type { RewardRow } from '../epochs/aggregate.js'
import { chunkRanges, type ChunkRange } from '../epochs/chunks.js'
import { anchorTable } from './anchor.js'
import { checkContribution, checkVerification } from './chunk-checks.js'
import { RoundWaiters } from './round-waiters.js'
import { ADMIN_PATH, RequestGate, QUEUE_PATH } from './request-gate.js'
import { Committees } from './committees.js'
import { closedMembershipRules, type BanJson, type Membership, type MembershipEvent, type MembershipRules } from './membership.js'
import { wholeSubmissionRecord } from './whole-submission.js'
import { loadGenesis } from './genesis.js'
import { openRoundFor } from './round-opening.js'
import { SerialQueue } from './serial-queue.js'
import { roundRecord } from './round-record.js'
import { attempt, one } from './item-results.js'
import { UpdateTicks } from './update-ticks.js'
import type { ContributionBody, ContributionsBody, ItemResult, LockGrant, VerificationBody } from '../epochs/requests.js'
import { acquireLease, addContribution, addVerification, assertHolder, expire, readyToAdvance, withoutData, type Anchor, type ChunkState, type RoundEvent, type RoundState, type RoundTiming } from './round.js'

export interface CoordinatorDeps {
  /** Told about every lease expiry, verification failure, rollback, failure and commit (for logs). */
  onEvent?: (epoch: number, event: RoundEvent) => void
  store: CoordinatorStore
  /** Injected clock (ms since the Unix epoch). */
  clock: () => number
  /** The genesis committee (round 0): the committee until the first change. */
  committee: CommitteeJson
  /** The living committee's rules (queue, admission, drops, bans, sizes); default: closedMembershipRules. */
  membership?: MembershipRules
  /** Told about every committee event (queued, staged, committed, banned, …) (for the audit log). */
  onMembershipEvent?: (event: MembershipEvent) => void
  /** Told about every record once it is committed (stored) (for `WS /contract/ws`). */
  onCommitted?: (record: EpochRecordJson) => void
  /** Told about evidence once it is stored behind a new ban, with the ban (for `WS /contract/ws`). */
  onEvidence?: (evidence: StoredEvidence, ban: BanJson | undefined) => void
  /** The genesis committee's aggregation parameters. */
  parameters: ParametersJson
  /** The parameters of a committee of `size` members (the threshold may follow the size); default: always `parameters`. */
  parametersFor?: (size: number) => ParametersJson
  verify: VerifyFn
  /** Accept `standalone` submissions (the baseline without consensus). */
  allowStandalone: boolean
  /** The operator's public key (hex): lock, unlock, ban and unban (POST /contract/admin/…). */
  adminKey?: string
  /** TEST ONLY: kill -9 at `submission` / `advance` (prepared, before the commit) / `commit` of an epoch (src/util/crash-points.ts). */
  crash?: CrashPoints
}

export interface EpochInfo extends EpochWindow {
  genesisMs: number
  epochMs: number
  environment: Environment
}

/**
 * The epoch coordinator ("the contract"): an epoch clock from a persisted genesis, a committee,
 * and per epoch the first valid submission. I/O is only through the injected store and clock, so
 * tests drive it deterministically. Submissions are serialised: of two racing valid submissions
 * exactly one is accepted, the other gets EPOCH_DECIDED with the winner.
 */
export class Coordinator {
  readonly environment: Environment
  readonly committee: CommitteeJson
  readonly parameters: ParametersJson
  readonly #deps: CoordinatorDeps
  readonly #ranges: ChunkRange[]
  readonly #timing: RoundTiming
  readonly #gate: RequestGate
  /** The committee of each epoch, and the queue, drops and bans that change it. */
  readonly committees: Committees
  /** Open rounds (bounded: an epoch is open from its end to its finalization deadline). */
  readonly #rounds = new Map<number, RoundState>()
  /** The reward table of each open round's anchor (every chunk is a slice of it). */
  readonly #tables = new Map<number, RewardRow[]>()
  #genesisMs: number | undefined
  readonly #queue = new SerialQueue()
  #noncesPrunedAt = 0
  readonly #ticks = new UpdateTicks()
  /** Requests waiting for a round to change (waitForChange), bounded. */
  readonly #waiters = new RoundWaiters()

  constructor (environment: Environment, deps: CoordinatorDeps) {
    this.environment = environment
    this.#deps = deps
    this.committee = deps.committee
    this.parameters = deps.parameters
    this.committees = new Committees(deps.committee, deps.membership ?? closedMembershipRules(deps.committee.members.length), { store: deps.store, parametersFor: deps.parametersFor ?? (() => deps.parameters), verify: deps.verify, onEvent: deps.onMembershipEvent, onEvidence: deps.onEvidence })
    this.#gate = new RequestGate({
      lookup: (key, path) => path.startsWith(ADMIN_PATH)
        ? (key === deps.adminKey ? { name: 'operator', peerId: '', publicKey: key } : undefined)
        : this.committees.lookup(key, [...this.#rounds.keys(), this.epochInfo().epoch], path === QUEUE_PATH),
      banned: (key) => this.committees.membership.ban(key),
      skewMs: environment.requestSkewMs,
      clock: deps.clock,
      verify: deps.verify,
      // the request goes on at once; its answer waits for the nonce's write like a task's writes
      // (its own task's writes come after it): src/contract/store.ts
      useNonce: async (key, timestamp) => await deps.store.useNonce(key, timestamp, (write) => { this.#queue.issued(write) })
    })
    this.#ranges = chunkRanges(deps.parameters.mixnodes, environment.chunkSize)
    this.#timing = { leaseTimeoutMs: environment.leaseTimeoutMs, attemptTimeoutMs: environment.attemptTimeoutMs, verifiersPerChunk: environment.verifiersPerChunk }
  }

  /**
   * Runs update() on a tick and at every epoch's end (src/contract/update-ticks.ts), once
   * initialized. `onError` hears a failed update (the next one tries again); `paused` skips them
   * (a failed store).
   */
  start (opts: { onError: (err: unknown) => void, paused?: () => boolean }): void {
    this.#ticks.start({
      tickMs: Math.max(50, Math.min(10_000, Math.round(this.environment.leaseTimeoutMs / 4))),
      clock: this.#deps.clock,
      nextEpochEnd: (now) => this.epochInfo(now).endMs,
      update: async () => { await this.update() },
      ...opts
    })
  }

  /** Stops the ticks and waits for a running update to finish. */
  async stop (): Promise<void> {
    this.#ticks.stop()
    await this.#queue.drain()
  }

  /** Runs `task` in the serial queue (src/contract/serial-queue.ts): its answer waits for its writes. */
  async #serial<T> (task: () => Promise<T>): Promise<T> {
    return await this.#queue.run(task)
  }

  /**
   * Loads the genesis time, or fixes it (the next whole second) on first start, with the epoch
   * length: epoch numbers depend on both, so a different length later is refused. Idempotent.
   */
  async initialize (): Promise<number> {
    if (this.#genesisMs != null) return this.#genesisMs
    const store = this.#deps.store
    // round 0 (src/contract/genesis.ts), then the living committee's state
    const genesis = await loadGenesis(store, { environment: this.environment, committee: this.committee, parameters: this.parameters, now: this.#deps.clock() })
    await this.committees.load()
    // the rounds that were open when the process stopped, as they were last stored
    this.#rounds.clear()
    this.#tables.clear()
    for (const round of await store.openRounds()) {
      this.#rounds.set(round.epoch, round)
      if (round.anchor != null) this.#tables.set(round.epoch, anchorTable(round.anchor, this.committees.at(round.epoch).parameters))
    }
    this.#genesisMs = genesis
    return genesis
  }

  get genesisMs (): number {
    if (this.#genesisMs == null) throw new Error('coordinator is not initialized')
    return this.#genesisMs
  }

  epochInfo (now = this.#deps.clock()): EpochInfo {
    const epoch = Math.max(1, epochAt(this.genesisMs, this.environment.epochMs, now))
    return { ...epochWindow(this.genesisMs, this.environment.epochMs, epoch), genesisMs: this.genesisMs, epochMs: this.environment.epochMs, environment: this.environment }
  }

  /** The cheap part of authorize(), before the body is read (src/contract/request-gate.ts). */
  precheck (headers: Record<string, string | string[] | undefined>, path: string): void {
    this.#gate.precheck(headers, path)
  }

  /** Checks a signed request and burns its nonce; returns the signer's committee entry. */
  async authorize (headers: Record<string, string | string[] | undefined>, method: string, path: string, body: Uint8Array): Promise<CommitteeMemberJson> {
    return await this.#gate.authorize(headers, method, path, body)
  }

  /**
   * Accepts the first valid submission for `epoch`; throws EPOCH_NOT_READY before the epoch ends,
   * EPOCH_DECIDED (details.record = the winner) once it has a record, SUBMISSION_INVALID naming
   * the failed check otherwise.
   */
  async submit (epoch: number, submission: SubmissionJson, submitter: CommitteeMemberJson): Promise<EpochRecordJson> {
    return await this.#serial(async () => await this.#submit(epoch, submission, submitter))
  }

  async #submit (epoch: number, submission: SubmissionJson, submitter: CommitteeMemberJson): Promise<EpochRecordJson> {
    this.#deps.crash?.reached('submission', epoch)
    const { committee, parameters } = this.committees.at(epoch)
    const record = wholeSubmissionRecord({ committee, parameters, verify: this.#deps.verify, allowStandalone: this.#deps.allowStandalone }, {
      epoch,
      window: epochWindow(this.genesisMs, this.environment.epochMs, epoch),
      now: this.#deps.clock(),
      submission,
      submitter,
      existing: await this.#deps.store.record(epoch)
    })
    const round = this.#rounds.get(epoch)
    if (round != null) await this.#deps.store.commitRound(record, round)
    else await this.#deps.store.commit(record)
    this.#deps.onCommitted?.(record)
    if (round != null) this.#close(round, 'committed', `a whole submission by ${submitter.name}`)
    this.#deps.crash?.reached('commit', epoch)
    return record
  }

  async record (epoch: number): Promise<EpochRecordJson | undefined> {
    return await this.#deps.store.record(epoch)
  }

  /** A committed record's JSON text as stored (what `record` parses). */
  async recordJson (epoch: number): Promise<Uint8Array | undefined> {
    return await this.#deps.store.recordJson(epoch)
  }

  async records (opts: { from?: number, limit: number, reverse?: boolean }): Promise<EpochRecordJson[]> {
    return await this.#deps.store.records(opts)
  }

  /**
   * The periodic driver, in a fixed order: open the round of the epoch that just ended; apply each
   * open round's timeouts (finalization → failed, attempt → rollback, leases → next member);
   * advance every round that is ready; forget nonces too old to be replayed (every 10 s).
   */
  async update (): Promise<void> {
    await this.#serial(async () => {
      const now = this.#deps.clock()
      const ended = this.epochInfo(now).epoch - 1
      if (ended >= 1 && !this.#rounds.has(ended)) await this.#roundFor(ended, now).catch(() => undefined)
      let membershipChanged = false
      for (const round of [...this.#rounds.values()]) {
        const attempt = round.attempt
        const seen = round.events.at(-1)
        if (!expire(round, now, this.committees.at(round.epoch).sorted, this.#timing)) continue
        this.#report(round, seen)
        membershipChanged = this.committees.noteRoundEvents(round, round.events.slice(seen == null ? 0 : round.events.indexOf(seen) + 1)) || membershipChanged
        if (round.status === 'failed') {
          // the reason stays; the rows and the block are dropped (nothing will be built on them).
          // Once closed the round is read from the store: the failure must be there first
          this.#save(withoutData(round), { anchor: true, rows: round.chunks.map((c) => c.index) })
          await this.#queue.written()
          this.#close(round)
        } else {
          this.#save(round, round.attempt !== attempt ? { anchor: true, rows: round.chunks.map((c) => c.index) } : {})
          if (round.anchor == null) this.#tables.delete(round.epoch)
        }
      }
      // the committee: drops, bans on repeated drops, admissions from the queue (src/contract/membership.ts)
      await this.committees.tick(this.epochInfo(now).epoch, this.environment.finalizationEpochs, membershipChanged)
      // the next round is ready when its epoch is complete, unless the operator locked advancing
      if (!this.committees.membership.locked) {
        for (const round of [...this.#rounds.values()]) if (readyToAdvance(round)) await this.#advance(round, now)
      }
      if (now - this.#noncesPrunedAt >= 10_000) {
        this.#noncesPrunedAt = now
        await this.#deps.store.pruneNonces(now - 2 * this.environment.requestSkewMs)
      }
    })
  }

  // ---- the round lifecycle (tryLock, tryContribute, tryVerify, tryAdvance) ------------------

  /**
   * The round of an epoch that has ended: the open one, or a new one (stored) while the epoch is
   * within its finalization window. Throws EPOCH_NOT_READY, EPOCH_DECIDED or EPOCH_FAILED.
   */
  async #roundFor (epoch: number, now: number): Promise<RoundState> {
    if (!Number.isSafeInteger(epoch) || epoch < 1) throw new EphemeraError(ErrorCode.BAD_REQUEST, `epoch must be a positive integer, got ${epoch}`)
    const open = this.#rounds.get(epoch)
    if (open != null) return open
    const round = await openRoundFor(epoch, now, {
      window: epochWindow(this.genesisMs, this.environment.epochMs, epoch), environment: this.environment, store: this.#deps.store, chunks: this.#ranges, members: this.committees.at(epoch).sorted, timing: this.#timing
    })
    this.#save(round, {})
    this.#rounds.set(epoch, round)
    return round
  }

  /** tryLock: the member offered chunk `index`'s lease acquires it; answers the lease and the round's block. */
  async tryLock (epoch: number, index: number, node: CommitteeMemberJson): Promise<LockGrant> {
    return one(await this.tryLockMany(epoch, [index], node))
  }

  /** tryLock for several chunks in one request (one stored change): a result per chunk. */
  async tryLockMany (epoch: number, indexes: readonly number[], node: CommitteeMemberJson): Promise<Array<ItemResult<LockGrant>>> {
    return await this.#serial(async () => {
      const now = this.#deps.clock()
      const round = await this.#roundFor(epoch, now)
      let fresh = false
      const results = indexes.map((index) => attempt(index, () => {
        fresh ||= round.chunks[index]?.lease.lockedAt == null
        const lease = acquireLease(round, index, node.publicKey, now)
        const chunk = round.chunks[index] as ChunkState
        return { epoch, attempt: round.attempt, chunk: { index, from: chunk.from, to: chunk.to }, lease, blockHash: round.anchor?.blockHash ?? null }
      }))
      if (fresh) this.#save(round, {})
      return results
    })
  }

  /**
   * tryContribute: the lease holder's rows for a chunk. The first contribution of an attempt
   * carries the certified block (checked like a whole submission) and fixes it for the epoch;
   * every chunk must be derived from that block, equal the aggregation of its reports for the
   * chunk's mixnodes, and be signed by the holder.
   */
  async tryContribute (epoch: number, index: number, node: CommitteeMemberJson, body: ContributionBody): Promise<{ verifiers: string[] }> {
    const { blockHash, block, ...item } = body
    return one(await this.tryContributeMany(epoch, node, { blockHash, ...(block != null ? { block } : {}), chunks: [{ ...item, chunk: index }] }))
  }

  /** tryContribute for several chunks of one block in one request (one stored change): a result per chunk. */
  async tryContributeMany (epoch: number, node: CommitteeMemberJson, body: ContributionsBody): Promise<Array<ItemResult<{ verifiers: string[] }>>> {
    return (await this.tryUploadMany(epoch, node, { contributions: body, verifications: body.verifications ?? [] })).results
  }

  /**
   * A member's uploads in one step of the queue and one stored change: its chunks (tryContribute,
   * the round's first bringing the block), then its verifications (tryVerify), which may be of
   * chunks its own contributions have just made verifiable (the block fixed). A result per chunk
   * of each, and whether the epoch committed.
   */
  async tryUploadMany (epoch: number, node: CommitteeMemberJson, uploads: { contributions?: ContributionsBody, verifications: ReadonlyArray<VerificationBody & { chunk: number }> }): Promise<{ results: Array<ItemResult<{ verifiers: string[] }>>, verifications: Array<ItemResult<null>>, committed: boolean }> {
    return await this.#serial(async () => {
      const body = uploads.contributions
      if (body != null) this.#deps.crash?.reached('submission', epoch)
      const now = this.#deps.clock()
      const round = await this.#roundFor(epoch, now)
      const anchored = round.anchor != null
      const unlocked = round.chunks.filter((c) => c.lease.lockedAt == null)
      const seen = round.events.at(-1)
      const rows: number[] = []
      const results = (body?.chunks ?? []).map((item) => attempt(item.chunk, () => {
        const b = body as ContributionsBody
        const chunk = this.#contributeOne(round, item.chunk, node, { blockHash: b.blockHash, rows: item.rows, signature: item.signature, ...(b.block != null ? { block: b.block } : {}) }, now, b.lock === true)
        rows.push(item.chunk)
        return { verifiers: chunk.verifiers }
      }))
      const verifications = uploads.verifications.map((item) => attempt(item.chunk, () => {
        this.#verifyOne(round, item.chunk, node, item, now)
        return null
      }))
      this.#report(round, seen)
      // a lease acquired by a contribution that was then refused is a change too, and so is a
      // refused finding (a false one is recorded, with both sides)
      if (rows.length > 0 || verifications.length > 0 || unlocked.some((c) => c.lease.lockedAt != null)) this.#save(round, { anchor: !anchored && round.anchor != null, rows })
      await this.committees.banCaught()
      // whichever upload completes the round commits it (verifications may come before contributions)
      if (!readyToAdvance(round) || this.committees.membership.locked) return { results, verifications, committed: false }
      await this.#advance(round, now)
      return { results, verifications, committed: true }
    })
  }

  /** One chunk's contribution; with `lock`, the lease offered to the contributor is acquired in the same step (tryLock). */
  #contributeOne (round: RoundState, index: number, node: CommitteeMemberJson, body: ContributionBody, now: number, lock = false): ChunkState {
    this.committees.refuseBanned(node)
    if (lock) acquireLease(round, index, node.publicKey, now)
    const chunk = assertHolder(round, index, node.publicKey, now)
    const committee = this.committees.at(round.epoch)
    let checked
    try {
      checked = checkContribution(committee.checks, { round, chunk, table: this.#tables.get(round.epoch), contributor: node.publicKey, body, now })
    } catch (err) {
      if (err instanceof EphemeraError && err.code === ErrorCode.SUBMISSION_INVALID) this.committees.catchFalse({ round, chunk, signer: node, now, epoch: this.epochInfo(now).epoch }, { contribution: body })
      throw err
    }
    const added = addContribution(round, index, { ...checked.contribution, anchor: checked.anchor }, body.blockHash.toLowerCase(), committee.sorted, this.#timing)
    this.#tables.set(round.epoch, checked.table)
    return added
  }

  /**
   * tryVerify: an assigned verifier's signed finding for a chunk (contributed, or not yet once the
   * round has its block). When it completes the round, the epoch is advanced (committed) at once.
   */
  async tryVerify (epoch: number, index: number, verifier: CommitteeMemberJson, body: VerificationBody): Promise<{ committed: boolean }> {
    const { results, committed } = await this.tryVerifyMany(epoch, verifier, [{ ...body, chunk: index }])
    one(results)
    return { committed }
  }

  /** tryVerify for several chunks in one request (one stored change): a result per chunk, and whether the epoch committed. */
  async tryVerifyMany (epoch: number, verifier: CommitteeMemberJson, items: ReadonlyArray<VerificationBody & { chunk: number }>): Promise<{ results: Array<ItemResult<null>>, committed: boolean }> {
    const { verifications, committed } = await this.tryUploadMany(epoch, verifier, { verifications: items })
    return { results: verifications, committed }
  }

  #verifyOne (round: RoundState, index: number, verifier: CommitteeMemberJson, body: VerificationBody, now: number): void {
    this.committees.refuseBanned(verifier)
    const verification = checkVerification(this.committees.at(round.epoch).checks, { round, index, table: this.#tables.get(round.epoch), verifier: verifier.publicKey, body, now })
    // a finding that contradicts the block is a false statement: recorded, not counted, its signer banned (and replaced at the deadline)
    const contributed = round.chunks[index]?.contribution?.rowsHash
    const assigned = round.chunks[index]?.verifiers.includes(verifier.publicKey) === true
    const chunk = round.chunks[index]
    if (!verification.ok && contributed != null && assigned && chunk != null) this.committees.catchFalse({ round, chunk, signer: verifier, now, epoch: this.epochInfo(now).epoch }, { verification: body, rowsHash: contributed })
    const banned = !verification.ok && this.committees.membership.ban(verifier.publicKey) != null
    addVerification(round, index, verification, banned ? 'it contradicts the certified block: the verifier is banned and will be replaced' : undefined)
    if (banned) throw new EphemeraError(ErrorCode.BANNED, `${verifier.name}'s verification of chunk ${index} contradicts the epoch's certified block: banned`)
  }

  /** tryAdvance: commits the epoch when every chunk is contributed and verified; the record, if it did. */
  async tryAdvance (epoch: number): Promise<EpochRecordJson | undefined> {
    return await this.#serial(async () => {
      const round = this.#rounds.get(epoch)
      if (this.committees.membership.locked) return undefined
      return round != null && readyToAdvance(round) ? await this.#advance(round, this.#deps.clock()) : undefined
    })
  }

  /**
   * Prepare (the round is complete; nothing else runs meanwhile: this is inside the queue), then
   * aggregate the chunks into the record and commit it and the end of the round in one atomic,
   * synced batch: a crash leaves either the open round (advanced again by the next update) or
   * the committed record, never half of each.
   */
  async #advance (round: RoundState, now: number): Promise<EpochRecordJson> {
    const committee = this.committees.at(round.epoch)
    // the committee: who reported counts, who did not missed the epoch; the staged change commits with the record
    const membership = this.committees.membership
    membership.noteCommitted(round.epoch, committee.committee, new Set((round.anchor as Anchor).reports.map((r) => r.message.publicKey.toLowerCase())))
    const change = membership.commitChange(round.epoch, this.epochInfo(now).epoch)
    const window = epochWindow(this.genesisMs, this.environment.epochMs, round.epoch)
    const record = roundRecord(round, { window, committee, verifiersPerChunk: this.#timing.verifiersPerChunk, now, change })
    this.#deps.crash?.reached('advance', round.epoch)
    await this.#deps.store.commitRound(record, round, this.committees.forCommit())
    this.committees.committed(change)
    this.#deps.onCommitted?.(record)
    this.#close(round, 'committed', `${round.chunks.length} chunks, attempt ${round.attempt}`)
    this.#deps.crash?.reached('commit', round.epoch)
    return record
  }

  #close (round: RoundState, kind?: 'committed', detail?: string): void {
    if (kind != null) {
      round.status = kind
      this.#deps.onEvent?.(round.epoch, { at: this.#deps.clock(), kind, detail: detail ?? '' })
    }
    this.#rounds.delete(round.epoch)
    this.#tables.delete(round.epoch)
    this.#waiters.wake(round.epoch)
  }

  /**
   * Changes the committee's state (addToQueue, removeFromQueue, evidence, operator controls) in
   * the queue, after everything before it, and stores it (synced, with the evidence behind a new
   * ban) before the answer.
   */
  async changeMembership<T> (change: (membership: Membership, now: number, epoch: number) => T | Promise<T>, evidence?: (result: T) => StoredEvidence | undefined): Promise<T> {
    return await this.#serial(async () => {
      const now = this.#deps.clock()
      const before = JSON.stringify(this.committees.membership.toJson())
      const result = await change(this.committees.membership, now, this.epochInfo(now).epoch)
      // an idempotent request (already queued, already a member) writes nothing
      if (JSON.stringify(this.committees.membership.toJson()) !== before) await this.committees.save(evidence?.(result))
      return result
    })
  }

  /**
   * Stores a round after a transition (the write is issued now, with the round as it is now; the
   * task's answer waits for it: SerialQueue) and wakes whoever waits for it to change.
   */
  #save (round: RoundState, changed: { anchor?: boolean, rows?: readonly number[] }): void {
    round.version += 1
    this.#queue.issued(this.#deps.store.saveRound(round, changed))
    this.#waiters.wake(round.epoch)
  }

  /**
   * Resolves once epoch's round has a version above `since` for which `matters` holds (always, for
   * a round that is no longer open), or is closed; or after `timeoutMs`, on abort, or at once when
   * too many wait: lets nodes wait for the next step of a round (or of their own part in it, with
   * `matters`) instead of polling it.
   */
  async waitForChange (epoch: number, since: number, timeoutMs: number, signal?: AbortSignal, matters: (round: RoundState) => boolean = () => true): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (let seen = since; ;) {
      const round = this.#rounds.get(epoch)
      if (round == null || (round.version > seen && (round.status !== 'open' || matters(round)))) return
      seen = round.version
      if (!await this.#waiters.wait(epoch, deadline - Date.now(), signal)) return
    }
  }

  /** Tells onEvent about the events after `last` (the newest event before a transition). */
  #report (round: RoundState, last: RoundEvent | undefined): void {
    const from = last == null ? 0 : round.events.indexOf(last) + 1
    for (const e of round.events.slice(from)) this.#deps.onEvent?.(round.epoch, e)
  }

  /** The open rounds, or one epoch's (open or failed), for the status view; rows left out. */
  async round (epoch: number): Promise<RoundState | undefined> {
    return this.#rounds.get(epoch) ?? await this.#deps.store.round(epoch)
  }

  openRounds (): RoundState[] {
    return [...this.#rounds.values()].sort((a, b) => a.epoch - b.epoch)
  }
}
