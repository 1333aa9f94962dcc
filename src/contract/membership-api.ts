import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { parseEpoch } from '../api/params.js'
import { banSchema, joinSchema, unbanSchema } from '../epochs/membership-requests.js'
import type { CommitteeMemberJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Coordinator } from './coordinator.js'
import type { ValidatorRequests } from './validator-requests.js'

export interface SignedRouteTools {
  /** Checks the request's signature (src/contract/request-gate.ts); the signer. */
  signed: (request: FastifyRequest) => Promise<CommitteeMemberJson>
  parse: <T>(schema: z.ZodType<T>, body: unknown, what: string) => T
}

/** The living committee's routes (README "Coordinator API"): reads are public, writes signed. */
export function registerMembershipRoutes (app: FastifyInstance, coordinator: Coordinator, requests: ValidatorRequests, clock: () => number, tools: SignedRouteTools): void {
  const { signed, parse } = tools

  app.get('/contract/membership', async () => requests.view(coordinator.epochInfo(clock()).epoch))

  app.get('/contract/genesis', async () => {
    const genesis = await coordinator.committees.genesisRound()
    if (genesis == null) throw new EphemeraError(ErrorCode.NOT_FOUND, 'the coordinator has not stored its genesis yet')
    return genesis
  })

  /** The committee of an epoch: final once the epoch is at most one ahead of the current one. */
  app.get<{ Params: { epoch: string } }>('/contract/committee/:epoch', async (request) => {
    const epoch = parseEpoch(request.params.epoch)
    const current = coordinator.epochInfo(clock()).epoch
    return { epoch, final: epoch <= current + 1, committee: coordinator.committees.at(epoch).committee }
  })

  app.get<{ Params: { hash: string } }>('/contract/evidence/:hash', async (request) => {
    const hash = request.params.hash.toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new EphemeraError(ErrorCode.BAD_REQUEST, 'the evidence hash must be 64 hex digits')
    const stored = await coordinator.committees.evidence(hash)
    if (stored == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `no evidence ${hash} (it is kept as long as its ban)`)
    return stored
  })

  app.post('/contract/queue', async (request) => {
    const signer = await signed(request)
    return await requests.addToQueue(signer, parse(joinSchema, request.body, 'join request'))
  })

  app.post('/contract/queue/leave', async (request) => await requests.removeFromQueue(await signed(request)))

  app.post('/contract/evidence', async (request) => await requests.evidence(await signed(request), request.body))

  app.post('/contract/admin/lock', async (request) => {
    await signed(request)
    return await requests.lock(true)
  })

  app.post('/contract/admin/unlock', async (request) => {
    await signed(request)
    return await requests.lock(false)
  })

  app.post('/contract/admin/ban', async (request) => {
    await signed(request)
    const body = parse(banSchema, request.body, 'ban')
    return await requests.ban(body.publicKey, body.reason)
  })

  app.post('/contract/admin/unban', async (request) => {
    await signed(request)
    return await requests.unban(parse(unbanSchema, request.body, 'unban').publicKey)
  })
}
