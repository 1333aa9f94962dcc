import { fromHex, toHex } from '../codec/bytes.js'
import type { DeliveredBlock } from '../broadcast/application.js'
import { chunkRanges, contributionSigningBytes, rowsHash, verificationSigningBytes, type ChunkRange } from '../epochs/chunks.js'
import { chunkVerifiers, leaseHolder } from '../epochs/rotation.js'
import { consensusSubmission, verifySubmission, type CommitteeJson, type EpochRecordJson, type ParametersJson, type SubmissionJson } from '../epochs/record.js'
import type { ContributionsBody, ItemResult, RoundViewJson, VerificationBody } from '../epochs/requests.js'
import type { RewardRow } from '../epochs/aggregate.js'
import { tableOfReports } from '../epochs/table.js'
import { verifySignature, type NodeKey } from '../crypto/keys.js'
import { AbortError, EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { sleep } from '../util/time.js'
import type { CoordinatorClient } from './coordinator-client.js'

/** What a node has done for an epoch's round, for its pipeline state. */
export interface ChunkProgress {
  chunks: number
  contributed: number
  verified: number
  /** Chunks this node uploaded, and verified. */
  mine: { contributed: number, verified: number }
  attempt: number
}

/** A chunk this node verifies, and its contribution when there is one. */
type OwedChunk = ChunkRange & { contribution?: { rowsHash: string, contributor: string } | null }

/** What the rotation of a round's duties takes besides the committee (the environment's). */
export interface RotationRules {
  chunkSize: number
  verifiersPerChunk: number
}

export interface ChunkDutiesModules {
  client: CoordinatorClient
  key: NodeKey
  /** The committee of an epoch (what its round's block must be certified by). */
  committee: (epoch: number) => CommitteeJson
  logger: Logger
  clock: () => number
}

/**
 * A node's part in an epoch's round at the coordinator (docs/PROTOCOL.md §7.6), once it holds a
 * certified block for the epoch: it uploads the chunks whose lease it is offered (the block goes
 * with the first upload of the round), verifies the chunks it is assigned against its own copy
 * of the round's block (checked against its own committee first when it is not the one it
 * delivered), and returns the record once the coordinator commits it. It polls the round; every
 * step is idempotent, so a restart or a lost answer is retried safely.
 */
export class ChunkDuties {
  readonly #m: ChunkDutiesModules
  readonly #self: string

  constructor (modules: ChunkDutiesModules) {
    this.#m = modules
    this.#self = toHex(modules.key.publicKey)
  }

  async run (p: { epoch: number, delivered: DeliveredBlock, parameters: ParametersJson, rotation?: RotationRules, deadline: number, pollMs: number, retryMs?: number, onProgress: (progress: ChunkProgress) => void }, signal: AbortSignal): Promise<EpochRecordJson> {
    const own = consensusSubmission(p.delivered, p.parameters)
    const tables = new Map<string, SubmissionJson>([[own.blockHash as string, own]])
    const mine = { contributed: new Set<string>(), verified: new Set<string>() }
    const client = this.#m.client
    if (p.rotation != null) {
      const rotation = p.rotation
      await this.#firstUpload(p.epoch, own, p.parameters, rotation, mine, signal).catch((err: unknown) => {
        if (signal.aborted) throw new AbortError()
        this.#m.logger.debug({ epoch: p.epoch, err: errorMessage(err) }, 'first chunk upload not done')
      })
    }
    // the pause after a step that could not be done (the round not open yet, a refused request)
    const retryMs = p.retryMs ?? Math.min(p.pollMs, 250)
    let seen: number | undefined
    let duties: string | undefined
    // whether the record was looked for (and absent) since the round was last seen open: it is
    // looked for only when there is no open round, not before every look at one (each request
    // is a step's latency)
    let recordLooked = false
    for (;;) {
      if (signal.aborted) throw new AbortError()
      if (this.#m.clock() > p.deadline) throw new EphemeraError(ErrorCode.TIMEOUT, `the coordinator did not commit the epoch by its finalization deadline (${new Date(p.deadline).toISOString()})`)
      try {
        // after the first look, wait for the round's next change (a long poll) rather than poll it
        // only this node's duties, and only once they change: not the whole round at every change
        const round = await client.round(p.epoch, signal, seen == null ? undefined : { since: seen, waitMs: p.pollMs, unless: duties }, this.#self)
        if (round?.status === 'failed') throw new EphemeraError(ErrorCode.EPOCH_FAILED, `the coordinator marked the epoch failed: ${round.failure ?? ''}`)
        if (round == null) {
          seen = undefined
          duties = undefined
          // no open round: committed (it was open at the last look, or before this node came), ...
          if (!recordLooked) {
            const record = await client.record(p.epoch, signal)
            if (record != null) return record
            recordLooked = true
          }
          // ... or not open yet: a lock opens it (an answer per chunk, refused unless this node
          // is offered the chunk), so look again at once. Only when the coordinator cannot open
          // it (the epoch has not ended there yet, or was committed just now) wait first.
          if (!await client.lockMany(p.epoch, [0], signal).then(() => true, () => false)) {
            recordLooked = false
            await sleep(retryMs, signal)
          }
        } else {
          seen = round.version
          duties = round.duties
          recordLooked = false
          await this.#duties(p.epoch, round, own, tables, mine, p.parameters, signal)
          p.onProgress({ chunks: round.progress.chunks, contributed: round.progress.contributed, verified: round.progress.verified, mine: { contributed: mine.contributed.size, verified: mine.verified.size }, attempt: round.attempt })
        }
      } catch (err) {
        if (signal.aborted) throw new AbortError()
        if ((err as EphemeraError).code === ErrorCode.EPOCH_FAILED) throw err
        this.#m.logger.debug({ epoch: p.epoch, err: errorMessage(err) }, 'chunk duty not done this time')
        seen = undefined
        duties = undefined
        recordLooked = false
        await sleep(retryMs, signal)
      }
    }
  }

  /**
   * This node's part of the round as it stands, in one request: every chunk it is offered
   * (uploaded and locked at once) and every finding it owes, taken after its chunks, so the
   * findings may be of chunks its own first contribution makes verifiable (a chunk is verified
   * against the round's block, before or after its contribution arrives). While the round has no
   * block, this node's own goes along with its contribution; with nothing offered to it, it waits
   * for a block.
   */
  async #duties (epoch: number, round: RoundViewJson, own: SubmissionJson, tables: Map<string, SubmissionJson>, mine: { contributed: Set<string>, verified: Set<string> }, parameters: ParametersJson, signal: AbortSignal): Promise<void> {
    const now = this.#m.clock()
    const offered = round.chunks.filter((c) => c.contribution == null && c.lease.holder === this.#self && now <= c.lease.deadline && !mine.contributed.has(`${round.attempt}:${c.index}`))
    const fixed = round.blockHash
    if (fixed == null && offered.length === 0) return
    // the round's block, or this node's own. Should another member's contribution have fixed
    // another block meanwhile, these are refused and the next look at the round has that block.
    const source = fixed == null ? own : await this.#table(epoch, fixed, tables, parameters, signal)
    const owed = round.chunks.filter((c) => c.verifiers.includes(this.#self) && !c.verifications.some((v) => v.verifier === this.#self) && !mine.verified.has(`${round.attempt}:${c.index}`))
    await this.#upload(epoch, round.attempt, { offered, owed, source, withBlock: fixed == null }, mine, signal)
  }

  /**
   * One upload of this node's duties in a round attempt: its offered chunks derived from `source`
   * (with the block when the round may have none) and its findings on the chunks it owes, in one
   * request (the findings alone when nothing is offered); what was taken is remembered in `mine`.
   */
  async #upload (epoch: number, attempt: number, u: { offered: readonly ChunkRange[], owed: readonly OwedChunk[], source: SubmissionJson, withBlock: boolean }, mine: { contributed: Set<string>, verified: Set<string> }, signal: AbortSignal): Promise<void> {
    const client = this.#m.client
    const verifications = this.#findings(epoch, u.owed, u.source)
    let verified: Array<ItemResult<null>>
    if (u.offered.length > 0) {
      const answer = await client.contributeMany(epoch, { ...this.#contributions(epoch, u.offered, u.source, u.withBlock), ...(verifications.length > 0 ? { verifications } : {}) }, signal)
      for (const r of answer.results) {
        if (r.ok) mine.contributed.add(`${attempt}:${r.chunk}`)
        else this.#m.logger.debug({ epoch, chunk: r.chunk, code: r.code, err: r.message }, 'chunk contribution refused')
      }
      verified = answer.verifications
    } else {
      if (verifications.length === 0) return
      verified = (await client.verifyMany(epoch, verifications, signal)).results
    }
    for (const r of verified) {
      if (r.ok) mine.verified.add(`${attempt}:${r.chunk}`)
      else this.#m.logger.debug({ epoch, chunk: r.chunk, code: r.code, err: r.message }, 'chunk verification refused')
    }
  }

  /**
   * The first upload, made without looking at the round: in a round's first attempt every lease
   * is offered to the member the rotation names and the verifiers follow from the holder
   * (docs/PROTOCOL.md §7.6), so this node knows its duties from its committee and the
   * environment. Its own block goes along, in case the round has none yet. Whatever this guess
   * gets wrong (a later attempt, a lease passed on, another block fixed first) is refused per
   * chunk, and the looks at the round put it right. A member offered nothing waits for a block.
   */
  async #firstUpload (epoch: number, own: SubmissionJson, parameters: ParametersJson, rotation: RotationRules, mine: { contributed: Set<string>, verified: Set<string> }, signal: AbortSignal): Promise<void> {
    const members = this.#m.committee(epoch).members.map((m) => m.publicKey.toLowerCase()).sort()
    if (!members.includes(this.#self)) return
    const chunks = chunkRanges(parameters.mixnodes, rotation.chunkSize).map((range) => {
      const holder = leaseHolder(members, epoch, range.index, 0, 0)
      return { ...range, holder, verifiers: chunkVerifiers(members, holder, 0, rotation.verifiersPerChunk) }
    })
    const offered = chunks.filter((c) => c.holder === this.#self)
    if (offered.length === 0) return
    await this.#upload(epoch, 0, { offered, owed: chunks.filter((c) => c.verifiers.includes(this.#self)), source: own, withBlock: true }, mine, signal)
  }

  /**
   * This node's signed findings for the chunks it verifies, against `source` (the round's block):
   * a contributed chunk's rows against its own; a chunk not contributed yet against the rows the
   * block gives, which its contribution must equal.
   */
  #findings (epoch: number, owed: readonly OwedChunk[], source: SubmissionJson): Array<VerificationBody & { chunk: number }> {
    const blockHash = fromHex(source.blockHash as string, 32) as Uint8Array
    return owed.map((chunk) => {
      const ownRows = rowsHash(source.rewards.slice(chunk.from, chunk.to))
      const contributed = chunk.contribution?.rowsHash ?? toHex(ownRows)
      const ok = toHex(ownRows) === contributed
      if (!ok) this.#m.logger.warn({ epoch, chunk: chunk.index, contributor: chunk.contribution?.contributor }, 'a contributed chunk does not match this node\'s rows: verification failed')
      const signature = this.#m.key.sign(verificationSigningBytes({ epoch, blockHash, chunk, rowsHash: fromHex(contributed, 32) as Uint8Array, ownRowsHash: ownRows, ok }))
      return { chunk: chunk.index, ok, ownRowsHash: toHex(ownRows), signature: toHex(signature), ...(ok ? {} : { detail: `rows ${chunk.from}–${chunk.to - 1} of block ${source.blockHash as string} differ from what this node derives` }) }
    })
  }

  /**
   * The submission (block, reports, reward table) of a certified block of the epoch: this node's
   * own, or the round's block from the coordinator, checked against this node's own committee
   * and the parameters before anything is derived from it.
   */
  async #table (epoch: number, blockHash: string, tables: Map<string, SubmissionJson>, parameters: ParametersJson, signal: AbortSignal): Promise<SubmissionJson> {
    const known = tables.get(blockHash)
    if (known != null) return known
    const anchor = await this.#m.client.roundBlock(epoch, signal)
    if (anchor == null || anchor.blockHash !== blockHash) throw new EphemeraError(ErrorCode.REMOTE, `the coordinator does not serve block ${blockHash} of epoch ${epoch}`)
    let rewards: RewardRow[]
    try {
      rewards = tableOfReports(anchor.reports, parameters)
    } catch (err) {
      throw new EphemeraError(ErrorCode.VERIFY_FAILED, `the round's block for epoch ${epoch} holds a report that does not decode: ${errorMessage(err)}`)
    }
    const submission: SubmissionJson = { mode: 'consensus', blockHash, header: anchor.header, certificate: anchor.certificate, reports: anchor.reports, rewards }
    const report = verifySubmission(submission, { epoch, committee: this.#m.committee(epoch), parameters, verify: verifySignature })
    if (!report.ok) throw new EphemeraError(ErrorCode.VERIFY_FAILED, `the round's block for epoch ${epoch} does not verify against this node's committee: ${report.failure ?? ''}`)
    if (tables.size > 4) tables.clear()
    tables.set(blockHash, submission)
    return submission
  }

  #contributions (epoch: number, chunks: readonly ChunkRange[], source: SubmissionJson, withBlock: boolean): ContributionsBody {
    const blockHash = source.blockHash as string
    const hash = fromHex(blockHash, 32) as Uint8Array
    return {
      blockHash,
      lock: true,
      ...(withBlock ? { block: { header: source.header as never, certificate: source.certificate as never, reports: source.reports } } : {}),
      chunks: chunks.map((chunk) => {
        const rows = source.rewards.slice(chunk.from, chunk.to)
        return { chunk: chunk.index, rows, signature: toHex(this.#m.key.sign(contributionSigningBytes({ epoch, blockHash: hash, chunk, rowsHash: rowsHash(rows) }))) }
      })
    }
  }
}
