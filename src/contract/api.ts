import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { verifyRecord, submissionSchema, type CommitteeMemberJson, type SubmissionJson } from '../epochs/record.js'
import { contributionSchema, contributionsSchema, locksSchema, verificationSchema, verificationsSchema, type ContributionBody, type ContributionsBody, type RoundViewJson, type VerificationBody } from '../epochs/requests.js'
import { chunkDone, type RoundState } from './round.js'
import type { Coordinator } from './coordinator.js'
import { epochWindow } from '../epochs/environment.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { VerifyFn } from '../block/validate.js'
import { parseEpoch, parseHash, parseIndex, parsePositiveInt } from '../api/params.js'
import { MAX_CHUNKS } from '../epochs/chunks.js'
import { registerMembershipRoutes } from './membership-api.js'
import { buildInfo } from '../util/version.js'
import { AuditTrail, type DecisionCounter } from './audit.js'
import type { Logger } from '../util/logger.js'
import { ValidatorRequests } from './validator-requests.js'
import { describeOnly } from '../api/openapi.js'
import { docs } from './api-docs.js'
import type { EpochSummary } from '../epochs/epoch-summary.js'
import { RecordSummaries } from './summaries.js'
import { memberView } from './member-view.js'

type RawRequest = FastifyRequest & { rawBody?: Buffer }


/** A round as served: every lease, contribution (rows left out) and verification, the block's hash. */
function roundView (round: RoundState): RoundViewJson {
  const { anchor, chunks, ...rest } = round
  return {
    ...rest,
    blockHash: anchor?.blockHash ?? null,
    blockBy: anchor?.by ?? null,
    progress: { chunks: chunks.length, contributed: chunks.filter((c) => c.contribution != null).length, verified: chunks.filter(chunkDone).length },
    chunks: chunks.map((c) => {
      if (c.contribution == null) return { ...c, contribution: null }
      const { rows: _rows, ...contribution } = c.contribution
      return { ...c, contribution }
    })
  }
}

export type { EpochSummary }

/** The coordinator's HTTP API (README "Coordinator API"). Reads are public; writes are signed. */
export function registerContractRoutes (root: FastifyInstance, coordinator: Coordinator, clock: () => number, verify: VerifyFn, auditLogger?: Logger, countDecision?: DecisionCounter): void {
  const audit = new AuditTrail(auditLogger, countDecision)
  const summaries = new RecordSummaries(async (epoch) => await coordinator.record(epoch))
  void root.register(async (app) => {
    describeOnly(app)
    // signed requests need the exact body bytes
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      (request as RawRequest).rawBody = body as Buffer
      try {
        done(null, (body as Buffer).length === 0 ? {} : JSON.parse((body as Buffer).toString('utf8')))
      } catch {
        done(new EphemeraError(ErrorCode.BAD_REQUEST, 'body is not valid JSON'), undefined)
      }
    })

    app.get('/contract/health', { schema: docs.health }, async () => ({ status: 'ok', pid: process.pid, genesisMs: coordinator.genesisMs, epoch: coordinator.epochInfo(clock()).epoch, build: buildInfo() }))

    app.get('/contract/epoch', { schema: docs.epoch }, async () => {
      const info = coordinator.epochInfo(clock())
      const { committee, parameters } = coordinator.committees.at(info.epoch)
      return {
        ...info,
        parameters,
        committee: { membershipId: committee.membershipId, size: committee.members.length }
      }
    })

    app.get('/contract/committee', { schema: docs.committee }, async () => coordinator.committees.at(coordinator.epochInfo(clock()).epoch).committee)

    app.get<{ Querystring: { from?: string, limit?: string } }>('/contract/epochs', { schema: docs.epochs }, async (request) => {
      const current = coordinator.epochInfo(clock())
      const limit = request.query.limit == null ? 20 : parsePositiveInt(request.query.limit, 'limit', undefined, 1000)
      const top = request.query.from == null ? current.epoch : parseEpoch(request.query.from)
      const epochs: EpochSummary[] = []
      for (let e = top; e >= 1 && epochs.length < limit; e--) {
        const committed = e < current.epoch ? await summaries.get(e) : undefined
        const window = epochWindow(current.genesisMs, current.epochMs, e)
        if (committed != null) {
          epochs.push(committed)
          continue
        }
        const round = e < current.epoch ? await coordinator.round(e) : undefined
        const view = round == null ? undefined : roundView(round)
        epochs.push({
          epoch: e,
          status: e >= current.epoch ? 'open' : round?.status === 'failed' ? 'failed' : 'pending',
          startMs: window.startMs,
          endMs: window.endMs,
          ...(view != null ? { chunks: { total: view.progress.chunks, contributed: view.progress.contributed, verified: view.progress.verified } } : {}),
          ...(round?.failure != null ? { reason: round.failure } : {})
        })
      }
      return { currentEpoch: current.epoch, epochs }
    })

    // the stored JSON text as is: every member fetches each record once it is committed (~130 KB
    // at 1,000 mixnodes), and parsing it to serialise it again gave the same text
    app.get<{ Params: { epoch: string } }>('/contract/epochs/:epoch', { schema: docs.record }, async (request, reply) => {
      const epoch = parseEpoch(request.params.epoch)
      const json = await coordinator.recordJson(epoch)
      if (json == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `epoch ${epoch} has no accepted submission${epoch >= coordinator.epochInfo(clock()).epoch ? ' (it has not ended yet)' : ''}`)
      return await reply.type('application/json; charset=utf-8').send(Buffer.from(json.buffer, json.byteOffset, json.byteLength))
    })

    /** Re-runs the verification of a stored record (for operators; `ephemera verify` does it client-side). */
    app.get<{ Params: { epoch: string } }>('/contract/epochs/:epoch/verification', { schema: docs.verification }, async (request) => {
      const epoch = parseEpoch(request.params.epoch)
      const record = await coordinator.record(epoch)
      if (record == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `epoch ${epoch} has no accepted submission`)
      return verifyRecord(record, verify, coordinator.committees.at(epoch).committee)
    })

    // refuse unsigned, stale or non-member requests before reading (up to 32 MB of) body
    app.addHook('onRequest', async (request) => {
      if (request.method !== 'POST') return
      coordinator.precheck(request.headers, request.url.split('?')[0] as string)
    })

    app.get('/contract/rounds', { schema: docs.rounds }, async () => ({ rounds: coordinator.openRounds().map(roundView) }))

    app.get<{ Params: { epoch: string }, Querystring: { since?: string, waitMs?: string, member?: string, unless?: string } }>('/contract/epochs/:epoch/round', { schema: docs.round }, async (request, reply) => {
      const epoch = parseEpoch(request.params.epoch)
      const member = request.query.member == null ? undefined : parseHash(request.query.member, 'member')
      const unless = request.query.unless
      if (unless != null && (member == null || !/^[0-9a-f]{32}$/.test(unless))) throw new EphemeraError(ErrorCode.BAD_REQUEST, 'unless must be the 32-hex-character duties digest of a member view, with member')
      const view = (round: RoundState): RoundViewJson => member == null ? roundView(round) : memberView(roundView(round), member)
      // long poll: with ?since=V, answer once the round's version is above V (or after waitMs);
      // with unless=D too, once the member's duties differ from D (or the round is gone)
      if (request.query.since != null) {
        const since = parseIndex(request.query.since, 'since', Number.MAX_SAFE_INTEGER)
        const waitMs = parseIndex(request.query.waitMs ?? '10000', 'waitMs', 30_000)
        const aborted = new AbortController()
        reply.raw.once('close', () => { aborted.abort() })
        await coordinator.waitForChange(epoch, since, waitMs, aborted.signal, unless == null ? undefined : (round) => view(round).duties !== unless)
      }
      const round = await coordinator.round(epoch)
      // (whether it is committed from the summaries: each member asks once the round is gone)
      if (round == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `epoch ${epoch} has no open or failed round${await summaries.get(epoch) != null ? ' (it is committed: GET /contract/epochs/' + String(epoch) + ')' : ''}`)
      return view(round)
    })

    /** The certified block an open round's chunks derive from (verifiers that lack it read it here and check it). */
    app.get<{ Params: { epoch: string } }>('/contract/epochs/:epoch/round/block', { schema: docs.roundBlock }, async (request) => {
      const epoch = parseEpoch(request.params.epoch)
      const anchor = (await coordinator.round(epoch))?.anchor
      if (anchor == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `epoch ${epoch} has no block fixed in an open round`)
      return anchor
    })

    const signed = async (request: FastifyRequest): Promise<CommitteeMemberJson> => {
      const raw = (request as RawRequest).rawBody ?? Buffer.alloc(0)
      return await coordinator.authorize(request.headers, 'POST', request.url.split('?')[0] as string, new Uint8Array(raw))
    }
    const parse = <T>(schema: z.ZodType<T>, body: unknown, what: string): T => {
      const parsed = schema.safeParse(body)
      if (parsed.success) return parsed.data
      const issue = parsed.error.issues[0]
      throw new EphemeraError(ErrorCode.BAD_REQUEST, `malformed ${what}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`)
    }

    // several chunks in one request (one stored change): a result per chunk, refusals included
    app.post<{ Params: { epoch: string } }>('/contract/epochs/:epoch/chunks/lock', { schema: docs.lockMany }, async (request) => {
      const node = await signed(request)
      const body = parse(locksSchema, request.body, 'locks')
      const epoch = parseEpoch(request.params.epoch)
      return { results: await audit.decide('lease', { epoch, node: node.name }, async () => await coordinator.tryLockMany(epoch, body.chunks, node), (r) => r) }
    })

    app.post<{ Params: { epoch: string } }>('/contract/epochs/:epoch/chunks/contributions', { schema: docs.contributeMany }, async (request) => {
      const node = await signed(request)
      const body = parse(contributionsSchema, request.body, 'contributions') as ContributionsBody
      const epoch = parseEpoch(request.params.epoch)
      const { verifications = [], ...contributions } = body
      const answer = await audit.decide('contribution', { epoch, node: node.name, blockHash: body.blockHash }, async () => await coordinator.tryUploadMany(epoch, node, { contributions, verifications }), (r) => r.results)
      audit.items('verification', { epoch, node: node.name }, answer.verifications)
      return answer
    })

    app.post<{ Params: { epoch: string } }>('/contract/epochs/:epoch/chunks/verifications', { schema: docs.verifyMany }, async (request) => {
      const node = await signed(request)
      const body = parse(verificationsSchema, request.body, 'verifications')
      const epoch = parseEpoch(request.params.epoch)
      return await audit.decide('verification', { epoch, node: node.name }, async () => await coordinator.tryVerifyMany(epoch, node, body.verifications), (r) => r.results)
    })

    app.post<{ Params: { epoch: string, chunk: string } }>('/contract/epochs/:epoch/chunks/:chunk/lock', { schema: docs.lock }, async (request) => {
      const node = await signed(request)
      const [epoch, chunk] = [parseEpoch(request.params.epoch), parseIndex(request.params.chunk, 'chunk', MAX_CHUNKS - 1)]
      return await audit.decide('lease', { epoch, chunk, node: node.name }, async () => await coordinator.tryLock(epoch, chunk, node))
    })

    app.post<{ Params: { epoch: string, chunk: string } }>('/contract/epochs/:epoch/chunks/:chunk/contribution', { schema: docs.contribute }, async (request) => {
      const node = await signed(request)
      const body = parse(contributionSchema, request.body, 'contribution') as ContributionBody
      const [epoch, chunk] = [parseEpoch(request.params.epoch), parseIndex(request.params.chunk, 'chunk', MAX_CHUNKS - 1)]
      return { status: 'contributed', ...await audit.decide('contribution', { epoch, chunk, node: node.name }, async () => await coordinator.tryContribute(epoch, chunk, node, body)) }
    })

    app.post<{ Params: { epoch: string, chunk: string } }>('/contract/epochs/:epoch/chunks/:chunk/verification', { schema: docs.verify }, async (request) => {
      const node = await signed(request)
      const body = parse(verificationSchema, request.body, 'verification') as VerificationBody
      const [epoch, chunk] = [parseEpoch(request.params.epoch), parseIndex(request.params.chunk, 'chunk', MAX_CHUNKS - 1)]
      return { status: 'recorded', ...await audit.decide('verification', { epoch, chunk, node: node.name }, async () => await coordinator.tryVerify(epoch, chunk, node, body)) }
    })

    registerMembershipRoutes(app, coordinator, new ValidatorRequests(coordinator, verify), clock, { signed, parse, audit })

    app.post<{ Params: { epoch: string } }>('/contract/epochs/:epoch/submissions', { schema: docs.submission }, async (request) => {
      const raw = (request as RawRequest).rawBody ?? Buffer.alloc(0)
      const path = request.url.split('?')[0] as string
      const submitter = await coordinator.authorize(request.headers, 'POST', path, new Uint8Array(raw))
      const epoch = parseEpoch(request.params.epoch)
      const parsed = submissionSchema.safeParse(request.body)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        throw new EphemeraError(ErrorCode.BAD_REQUEST, `malformed submission: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`)
      }
      const record = await audit.decide('submission', { epoch, node: submitter.name }, async () => await coordinator.submit(epoch, parsed.data as unknown as SubmissionJson, submitter))
      return { status: 'accepted', epoch, winner: record.winner, acceptedAt: record.acceptedAt, latencyMs: record.latencyMs }
    })
  })
}
