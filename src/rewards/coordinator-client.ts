import { signRequest } from '../epochs/auth.js'
import type { Environment } from '../epochs/environment.js'
import type { CommitteeJson, EpochRecordJson, ParametersJson, SubmissionJson } from '../epochs/record.js'
import type { NodeKey } from '../crypto/keys.js'
import type { ContributionsBody, ItemResult, LockGrant, RoundViewJson, VerificationBody } from '../epochs/requests.js'
import type { Anchor } from '../epochs/round-types.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { JoinBody, MembershipViewJson, QueueAnswerJson } from '../epochs/membership-requests.js'
import type { EvidenceJson } from '../epochs/evidence.js'

export interface EpochInfoJson {
  epoch: number
  startMs: number
  endMs: number
  genesisMs: number
  epochMs: number
  environment: Environment
  parameters: ParametersJson
  committee: { membershipId: string, size: number }
}

export type SubmitOutcome = { status: 'accepted' } | { status: 'decided', record: EpochRecordJson }

/** The node's side of the coordinator API; every write is signed with the node key. */
export class CoordinatorClient {
  readonly baseUrl: string
  readonly #key: NodeKey
  readonly #timeoutMs: number

  constructor (baseUrl: string, key: NodeKey, timeoutMs = 10_000) {
    this.baseUrl = baseUrl.replace(/\/$/, '')
    this.#key = key
    this.#timeoutMs = timeoutMs
  }

  async #fetch (path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<{ status: number, body: any }> {
    const timeout = AbortSignal.timeout(this.#timeoutMs)
    let res: Response
    try {
      res = await fetch(`${this.baseUrl}${path}`, { ...init, signal: signal == null ? timeout : AbortSignal.any([timeout, signal]) })
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code
      throw new EphemeraError(ErrorCode.REMOTE, `coordinator ${this.baseUrl} unreachable${code != null ? ` (${code})` : ''}`)
    }
    const text = await res.text()
    try {
      return { status: res.status, body: JSON.parse(text) }
    } catch {
      throw new EphemeraError(ErrorCode.REMOTE, `coordinator answered ${path} with HTTP ${res.status}, not JSON`)
    }
  }

  async epochInfo (signal?: AbortSignal): Promise<EpochInfoJson> {
    const { status, body } = await this.#fetch('/contract/epoch', {}, signal)
    if (status !== 200) throw new EphemeraError(ErrorCode.REMOTE, `GET /contract/epoch: HTTP ${status}: ${String(body?.message)}`)
    return body as EpochInfoJson
  }

  async committee (signal?: AbortSignal): Promise<CommitteeJson> {
    const { status, body } = await this.#fetch('/contract/committee', {}, signal)
    if (status !== 200) throw new EphemeraError(ErrorCode.REMOTE, `GET /contract/committee: HTTP ${status}: ${String(body?.message)}`)
    return body as CommitteeJson
  }

  /** The living committee: queue, staged changes, bans, and every open epoch's committee (GET /contract/membership). */
  async membership (signal?: AbortSignal): Promise<MembershipViewJson> {
    const { status, body } = await this.#fetch('/contract/membership', {}, signal)
    if (status !== 200) throw new EphemeraError(ErrorCode.REMOTE, `GET /contract/membership: HTTP ${status}: ${String(body?.message)}`)
    return body as MembershipViewJson
  }

  /** addToQueue: asks to join the committee (POST /contract/queue). */
  async join (body: JoinBody, signal?: AbortSignal): Promise<QueueAnswerJson> {
    const res = await this.#post('/contract/queue', body, signal)
    if (res.status !== 200) throw this.#refused('joining the queue', res)
    return res.body as QueueAnswerJson
  }

  /** Equivocation evidence (POST /contract/evidence); true when it got the signer banned, false when it already was. */
  async evidence (evidence: EvidenceJson, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#post('/contract/evidence', evidence, signal)
    if (res.status === 200) return true
    if (res.status === 409) return false
    throw this.#refused('submitting evidence', res)
  }

  /** The accepted record of an epoch, or undefined if it has none (yet). */
  async record (epoch: number, signal?: AbortSignal): Promise<EpochRecordJson | undefined> {
    const { status, body } = await this.#fetch(`/contract/epochs/${epoch}`, {}, signal)
    if (status === 404) return undefined
    if (status !== 200) throw new EphemeraError(ErrorCode.REMOTE, `GET /contract/epochs/${epoch}: HTTP ${status}: ${String(body?.message)}`)
    return body as EpochRecordJson
  }

  /** A signed POST of a JSON body. */
  async #post (path: string, json: unknown, signal?: AbortSignal): Promise<{ status: number, body: any }> {
    const body = new TextEncoder().encode(JSON.stringify(json))
    const headers = { 'content-type': 'application/json', ...signRequest(this.#key.publicKey, (b) => this.#key.sign(b), 'POST', path, body) }
    return await this.#fetch(path, { method: 'POST', headers, body }, signal)
  }

  /** A refusal as a typed error: details carry the HTTP status and the coordinator's error code. */
  #refused (what: string, res: { status: number, body: any }): EphemeraError {
    return new EphemeraError(ErrorCode.REMOTE, `${what}: HTTP ${res.status}: ${String(res.body?.message)}`, { status: res.status, code: res.body?.error })
  }

  /** An epoch's round (open or failed), or undefined when it has none (not ended, or committed). */
  async round (epoch: number, signal?: AbortSignal, wait?: { since: number, waitMs: number, unless?: string }, member?: string): Promise<RoundViewJson | undefined> {
    const query = new URLSearchParams({
      ...(wait == null ? {} : { since: String(wait.since), waitMs: String(wait.waitMs), ...(wait.unless == null ? {} : { unless: wait.unless }) }),
      ...(member == null ? {} : { member })
    }).toString()
    const res = await this.#fetch(`/contract/epochs/${epoch}/round${query === '' ? '' : `?${query}`}`, {}, signal)
    if (res.status === 404) return undefined
    if (res.status !== 200) throw this.#refused(`GET /contract/epochs/${epoch}/round`, res)
    return res.body as RoundViewJson
  }

  /** The certified block an open round's chunks derive from (check it before trusting it). */
  async roundBlock (epoch: number, signal?: AbortSignal): Promise<Anchor | undefined> {
    const res = await this.#fetch(`/contract/epochs/${epoch}/round/block`, {}, signal)
    if (res.status === 404) return undefined
    if (res.status !== 200) throw this.#refused(`GET /contract/epochs/${epoch}/round/block`, res)
    return res.body as Anchor
  }

  /** tryLock of several chunks in one signed request: a result per chunk. */
  async lockMany (epoch: number, chunks: number[], signal?: AbortSignal): Promise<Array<ItemResult<LockGrant>>> {
    const res = await this.#post(`/contract/epochs/${epoch}/chunks/lock`, { chunks }, signal)
    if (res.status !== 200) throw this.#refused(`lock of chunks ${chunks.join(', ')} of epoch ${epoch}`, res)
    return res.body.results as Array<ItemResult<LockGrant>>
  }

  /** tryContribute of several chunks of one block in one signed request, and the sender's verifications (tryVerify) after them: a result per chunk of each, and whether the epoch committed. */
  async contributeMany (epoch: number, body: ContributionsBody, signal?: AbortSignal): Promise<{ results: Array<ItemResult<{ verifiers: string[] }>>, verifications: Array<ItemResult<null>>, committed: boolean }> {
    const res = await this.#post(`/contract/epochs/${epoch}/chunks/contributions`, body, signal)
    if (res.status !== 200) throw this.#refused(`contributions to epoch ${epoch}`, res)
    const answer = res.body as { results: Array<ItemResult<{ verifiers: string[] }>>, verifications?: Array<ItemResult<null>>, committed?: boolean }
    return { results: answer.results, verifications: answer.verifications ?? [], committed: answer.committed === true }
  }

  /** tryVerify of several chunks in one signed request: a result per chunk, and whether the epoch committed. */
  async verifyMany (epoch: number, verifications: Array<VerificationBody & { chunk: number }>, signal?: AbortSignal): Promise<{ results: Array<ItemResult<null>>, committed: boolean }> {
    const res = await this.#post(`/contract/epochs/${epoch}/chunks/verifications`, { verifications }, signal)
    if (res.status !== 200) throw this.#refused(`verifications for epoch ${epoch}`, res)
    return res.body as { results: Array<ItemResult<null>>, committed: boolean }
  }

  /** Submits (signed). A 409 is not an error: it brings the winning record. */
  async submit (epoch: number, submission: SubmissionJson, signal?: AbortSignal): Promise<SubmitOutcome> {
    const path = `/contract/epochs/${epoch}/submissions`
    const res = await this.#post(path, submission, signal)
    if (res.status === 200) return { status: 'accepted' }
    if (res.status === 409 && res.body?.record != null) return { status: 'decided', record: res.body.record as EpochRecordJson }
    throw new EphemeraError(ErrorCode.REMOTE, `submission for epoch ${epoch} refused: HTTP ${res.status}: ${String(res.body?.message)}`, { status: res.status })
  }
}
