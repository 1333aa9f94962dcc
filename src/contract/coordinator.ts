import { fromHex, toHex } from '../codec/bytes.js'
import type { VerifyFn } from '../block/validate.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { HEADERS, verifyRequest } from '../epochs/auth.js'
import { epochAt, epochWindow, type Environment, type EpochWindow } from '../epochs/environment.js'
import { canonicalSubmission, verifySubmission, type CommitteeJson, type CommitteeMemberJson, type EpochRecordJson, type ParametersJson, type SubmissionJson } from '../epochs/record.js'
import type { CoordinatorStore } from './store.js'
import type { CrashPoints } from '../util/crash-points.js'

export interface CoordinatorDeps {
  store: CoordinatorStore
  /** Injected clock (ms since the Unix epoch). */
  clock: () => number
  committee: CommitteeJson
  parameters: ParametersJson
  verify: VerifyFn
  /** Accept `standalone` submissions (the baseline without consensus). */
  allowStandalone: boolean
  /** TEST ONLY: kill -9 at `submission` / `commit` of an epoch (src/util/crash-points.ts). */
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
  readonly #members: Map<string, CommitteeMemberJson>
  #genesisMs: number | undefined
  #queue: Promise<unknown> = Promise.resolve()

  constructor (environment: Environment, deps: CoordinatorDeps) {
    this.environment = environment
    this.#deps = deps
    this.committee = deps.committee
    this.parameters = deps.parameters
    this.#members = new Map(deps.committee.members.map((m) => [m.publicKey, m]))
  }

  /**
   * Loads the genesis time, or fixes it (the next whole second) on first start, with the epoch
   * length: epoch numbers depend on both, so a different length later is refused. Idempotent.
   */
  async initialize (): Promise<number> {
    if (this.#genesisMs != null) return this.#genesisMs
    const store = this.#deps.store
    let genesis = await store.genesis()
    if (genesis == null) {
      genesis = Math.ceil(this.#deps.clock() / 1000) * 1000
      await store.setEpochMs(this.environment.epochMs)
      await store.setGenesis(genesis)
    }
    const epochMs = await store.epochMs()
    if (epochMs == null) {
      await store.setEpochMs(this.environment.epochMs)
    } else if (epochMs !== this.environment.epochMs) {
      throw new EphemeraError(ErrorCode.CONFIG_INVALID,
        `this coordinator's data was made with ${epochMs} ms epochs; it cannot run with ${this.environment.epochMs} ms (every epoch number would change). Use the original length, or clear the data of the coordinator and the nodes (ephemera cluster clear) to start over`)
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

  /**
   * The cheap part of authorize(), before the body is read: the signature headers are there, the
   * timestamp is fresh and the key belongs to the committee. Throws like authorize().
   */
  precheck (headers: Record<string, string | string[] | undefined>): void {
    const key = headers[HEADERS.key]
    if (typeof key !== 'string' || key === '') throw new EphemeraError(ErrorCode.UNAUTHORIZED, `unsigned request: missing header ${HEADERS.key}`)
    const timestamp = Number(headers[HEADERS.timestamp])
    if (!Number.isSafeInteger(timestamp) || Math.abs(this.#deps.clock() - timestamp) > this.environment.requestSkewMs) {
      throw new EphemeraError(ErrorCode.UNAUTHORIZED, `request timestamp missing or more than ${Math.round(this.environment.requestSkewMs / 1000)} s off the coordinator's clock`)
    }
    if (!this.#members.has(key.toLowerCase())) throw new EphemeraError(ErrorCode.FORBIDDEN, `signer ${key} is not in the committee`)
  }

  /** Checks a signed request and burns its nonce; returns the signer's committee entry. */
  async authorize (headers: Record<string, string | string[] | undefined>, method: string, path: string, body: Uint8Array): Promise<CommitteeMemberJson> {
    const now = this.#deps.clock()
    const request = verifyRequest(headers, method, path, body, now, this.environment.requestSkewMs, this.#deps.verify)
    const member = this.#members.get(toHex(request.publicKey))
    if (member == null) throw new EphemeraError(ErrorCode.FORBIDDEN, `signer ${toHex(request.publicKey)} is not in the committee`)
    if (!await this.#deps.store.useNonce(`${toHex(request.publicKey)}:${request.nonce}`, request.timestamp)) {
      throw new EphemeraError(ErrorCode.UNAUTHORIZED, 'replayed request: this nonce was already used')
    }
    return member
  }

  /**
   * Accepts the first valid submission for `epoch`; throws EPOCH_NOT_READY before the epoch ends,
   * EPOCH_DECIDED (details.record = the winner) once it has a record, SUBMISSION_INVALID naming
   * the failed check otherwise.
   */
  async submit (epoch: number, submission: SubmissionJson, submitter: CommitteeMemberJson): Promise<EpochRecordJson> {
    const run = this.#queue.then(async () => await this.#submit(epoch, submission, submitter))
    this.#queue = run.catch(() => {})
    return await run
  }

  async #submit (epoch: number, submission: SubmissionJson, submitter: CommitteeMemberJson): Promise<EpochRecordJson> {
    this.#deps.crash?.reached('submission', epoch)
    const now = this.#deps.clock()
    const window = epochWindow(this.genesisMs, this.environment.epochMs, epoch)
    if (!Number.isSafeInteger(epoch) || epoch < 1) throw new EphemeraError(ErrorCode.BAD_REQUEST, `epoch must be a positive integer, got ${epoch}`)
    if (now < window.endMs) throw new EphemeraError(ErrorCode.EPOCH_NOT_READY, `epoch ${epoch} ends at ${new Date(window.endMs).toISOString()}; it cannot be submitted before then`)
    const existing = await this.#deps.store.record(epoch)
    if (existing != null) {
      throw new EphemeraError(ErrorCode.EPOCH_DECIDED, `epoch ${epoch} already has an accepted submission, by ${existing.winner.name} (${existing.winner.peerId})`, { response: { record: existing } })
    }
    if (submission.mode === 'standalone' && !this.#deps.allowStandalone) {
      throw new EphemeraError(ErrorCode.FORBIDDEN, 'this coordinator does not accept standalone submissions (allow_standalone = false)')
    }
    const report = verifySubmission(submission, {
      epoch, committee: this.committee, parameters: this.parameters, verify: this.#deps.verify, submitter: fromHex(submitter.publicKey, 32)
    })
    if (!report.ok) throw new EphemeraError(ErrorCode.SUBMISSION_INVALID, `submission for epoch ${epoch} refused: ${report.failure ?? ''}`, { response: { checks: report.checks } })
    const record: EpochRecordJson = {
      epoch,
      startMs: window.startMs,
      endMs: window.endMs,
      committee: this.committee,
      parameters: this.parameters,
      submission: canonicalSubmission(submission),
      winner: submitter,
      acceptedAt: now,
      latencyMs: now - window.endMs
    }
    await this.#deps.store.commit(record)
    this.#deps.crash?.reached('commit', epoch)
    return record
  }

  async record (epoch: number): Promise<EpochRecordJson | undefined> {
    return await this.#deps.store.record(epoch)
  }

  async records (opts: { from?: number, limit: number, reverse?: boolean }): Promise<EpochRecordJson[]> {
    return await this.#deps.store.records(opts)
  }

  /** Periodic housekeeping: forgets nonces too old to be replayed (the timestamp check refuses them). */
  async update (): Promise<void> {
    await this.#deps.store.pruneNonces(this.#deps.clock() - 2 * this.environment.requestSkewMs)
  }
}
