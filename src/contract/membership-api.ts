import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { parseEpoch } from '../api/params.js'
import { banSchema, joinSchema, unbanSchema } from '../epochs/membership-requests.js'
import type { CommitteeMemberJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Coordinator } from './coordinator.js'
import type { ValidatorRequests } from './validator-requests.js'
import type { AuditTrail } from './audit.js'
import { docs } from './api-docs.js'

export interface SignedRouteTools {
  /** Checks the request's signature (src/contract/request-gate.ts); the signer. */
  signed: (request: FastifyRequest) => Promise<CommitteeMemberJson>
  parse: <T>(schema: z.ZodType<T>, body: unknown, what: string) => T
  audit: AuditTrail
}

/** The living committee's routes (README "Coordinator API"): reads are public, writes signed. */
export function registerMembershipRoutes (app: FastifyInstance, coordinator: Coordinator, requests: ValidatorRequests, clock: () => number, tools: SignedRouteTools): void {
  const { signed, parse, audit } = tools

  app.get('/contract/membership', { schema: docs.membership }, async () => requests.view(coordinator.epochInfo(clock()).epoch))

  app.get('/contract/genesis', { schema: docs.genesis }, async () => {
    const genesis = await coordinator.committees.genesisRound()
    if (genesis == null) throw new EphemeraError(ErrorCode.NOT_FOUND, 'the coordinator has not stored its genesis yet')
    return genesis
  })

  /** The committee of an epoch: final once the epoch is at most one ahead of the current one. */
  app.get<{ Params: { epoch: string } }>('/contract/committee/:epoch', { schema: docs.committeeAt }, async (request) => {
    const epoch = parseEpoch(request.params.epoch)
    const current = coordinator.epochInfo(clock()).epoch
    return { epoch, final: epoch <= current + 1, committee: coordinator.committees.at(epoch).committee }
  })

  app.get<{ Params: { hash: string } }>('/contract/evidence/:hash', { schema: docs.evidenceByHash }, async (request) => {
    const hash = request.params.hash.toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new EphemeraError(ErrorCode.BAD_REQUEST, 'the evidence hash must be 64 hex digits')
    const stored = await coordinator.committees.evidence(hash)
    if (stored == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `no evidence ${hash} (it is kept as long as its ban)`)
    return stored
  })

  app.post('/contract/queue', { schema: docs.join }, async (request) => {
    const signer = await signed(request)
    const body = parse(joinSchema, request.body, 'join request')
    return await audit.decide('join', { node: body.name, publicKey: signer.publicKey }, async () => await requests.addToQueue(signer, body))
  })

  app.post('/contract/queue/leave', { schema: docs.leave }, async (request) => {
    const signer = await signed(request)
    return await audit.decide('leave', { node: signer.name }, async () => await requests.removeFromQueue(signer))
  })

  app.post('/contract/evidence', { schema: docs.evidence }, async (request) => {
    const signer = await signed(request)
    return await audit.decide('evidence', { node: signer.name, kind: (request.body as { kind?: unknown } | undefined)?.kind }, async () => await requests.evidence(signer, request.body))
  })

  app.post('/contract/admin/lock', { schema: docs.adminLock }, async (request) => {
    await signed(request)
    return await audit.decide('operator lock', {}, async () => await requests.lock(true))
  })

  app.post('/contract/admin/unlock', { schema: docs.adminUnlock }, async (request) => {
    await signed(request)
    return await audit.decide('operator unlock', {}, async () => await requests.lock(false))
  })

  app.post('/contract/admin/ban', { schema: docs.adminBan }, async (request) => {
    await signed(request)
    const body = parse(banSchema, request.body, 'ban')
    return await audit.decide('operator ban', { publicKey: body.publicKey, reason: body.reason }, async () => await requests.ban(body.publicKey, body.reason))
  })

  app.post('/contract/admin/unban', { schema: docs.adminUnban }, async (request) => {
    await signed(request)
    const body = parse(unbanSchema, request.body, 'unban')
    return await audit.decide('operator unban', { publicKey: body.publicKey }, async () => await requests.unban(body.publicKey))
  })
}
