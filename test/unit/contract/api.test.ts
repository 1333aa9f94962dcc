import type { LightMyRequestResponse } from 'fastify'
import { afterEach, describe, it, expect } from 'vitest'
import { HttpServer } from '../../../src/api/server.js'
import { registerContractRoutes, type EpochSummary } from '../../../src/contract/api.js'
import { signRequest } from '../../../src/epochs/auth.js'
import { Coordinator } from '../../../src/contract/coordinator.js'
import { ENVIRONMENTS, epochWindow } from '../../../src/epochs/environment.js'
import type { EpochRecordJson, SubmissionJson } from '../../../src/epochs/record.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import { silentLogger, type Logger } from '../../../src/util/logger.js'
import { pino } from 'pino'
import { VERSION } from '../../../src/util/version.js'
import { clone, COMMITTEE, consensusSubmission, KEYS, member, MemoryStore, OUTSIDER, PARAMETERS, standaloneSubmission } from './fixtures.js'

const ENV = ENVIRONMENTS.testing
const START = 1_700_000_000_400
const GENESIS = 1_700_000_001_000
const endOf = (epoch: number): number => epochWindow(GENESIS, ENV.epochMs, epoch).endMs

const servers: HttpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.app.close() }))
})

interface Api {
  server: HttpServer
  coordinator: Coordinator
  clock: { now: number }
  store: MemoryStore
}

/** A coordinator on an in-memory store behind the HTTP API; the clock starts in epoch 4 (epochs 1–3 ended). */
async function api (opts: { allowStandalone?: boolean, audit?: Logger } = {}): Promise<Api> {
  const clock = { now: START }
  const store = new MemoryStore()
  const coordinator = new Coordinator(ENV, { store, clock: () => clock.now, committee: COMMITTEE, parameters: PARAMETERS, verify: verifySignature, allowStandalone: opts.allowStandalone ?? false })
  expect(await coordinator.initialize()).toBe(GENESIS)
  clock.now = endOf(3) + 500
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, silentLogger())
  servers.push(server)
  registerContractRoutes(server.app, coordinator, () => clock.now, verifySignature, opts.audit)
  await server.app.ready()
  return { server, coordinator, clock, store }
}

const submissionsPath = (epoch: number | string): string => `/contract/epochs/${epoch}/submissions`

/** Signs the exact body bytes as a member would. */
function signed (k: NodeKey, epoch: number | string, body: string, now: number): Record<string, string> {
  return {
    'content-type': 'application/json',
    ...signRequest(k.publicKey, (b) => k.sign(b), 'POST', submissionsPath(epoch), new TextEncoder().encode(body), now)
  }
}

async function post (a: Api, epoch: number | string, body: string, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  const res = await a.server.app.inject({ method: 'POST', url: submissionsPath(epoch), payload: body, headers })
  expect(res.statusCode, res.body).not.toBe(500)
  return res
}

async function get (a: Api, url: string): Promise<LightMyRequestResponse> {
  const res = await a.server.app.inject({ method: 'GET', url })
  expect(res.statusCode, res.body).not.toBe(500)
  return res
}

async function submitSigned (a: Api, epoch: number, submission: SubmissionJson, signer = 0): Promise<LightMyRequestResponse> {
  const body = JSON.stringify(submission)
  return await post(a, epoch, body, signed(KEYS[signer] as NodeKey, epoch, body, a.clock.now))
}

describe('coordinator API: reads', () => {
  it('GET /contract/health', async () => {
    const a = await api()
    const res = await get(a, '/contract/health')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok', pid: process.pid, genesisMs: GENESIS, epoch: 4, build: { version: VERSION, node: process.version, platform: `${process.platform}-${process.arch}` } })
  })

  it('GET /contract/epoch: the running epoch, environment, parameters and committee size', async () => {
    const a = await api()
    const res = await get(a, '/contract/epoch')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      epoch: 4,
      startMs: endOf(3),
      endMs: endOf(4),
      genesisMs: GENESIS,
      epochMs: 2_000,
      environment: ENV,
      parameters: PARAMETERS,
      committee: { membershipId: COMMITTEE.membershipId, size: 4 }
    })
  })

  it('GET /contract/committee', async () => {
    const a = await api()
    const res = await get(a, '/contract/committee')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(COMMITTEE)
  })

  it('GET /contract/epochs: open, pending and committed epochs, newest first', async () => {
    const a = await api()
    const before = await get(a, '/contract/epochs')
    expect(before.statusCode).toBe(200)
    expect(before.json()).toEqual({
      currentEpoch: 4,
      epochs: [4, 3, 2, 1].map((e) => ({ epoch: e, status: e === 4 ? 'open' : 'pending', startMs: endOf(e) - 2_000, endMs: endOf(e) }))
    })

    const { submission } = consensusSubmission({ epoch: 2, signers: [0, 1, 3] })
    expect((await submitSigned(a, 2, submission, 1)).statusCode).toBe(200)
    const record = await a.coordinator.record(2) as EpochRecordJson
    const after = (await get(a, '/contract/epochs')).json() as { currentEpoch: number, epochs: EpochSummary[] }
    expect(after.epochs.map((e) => [e.epoch, e.status])).toEqual([[4, 'open'], [3, 'pending'], [2, 'committed'], [1, 'pending']])
    expect(after.epochs[2]).toEqual({
      epoch: 2,
      status: 'committed',
      startMs: endOf(1),
      endMs: endOf(2),
      winner: 'node2',
      mode: 'consensus',
      blockHash: submission.blockHash,
      reports: 4,
      signatures: 3,
      acceptedAt: record.acceptedAt,
      latencyMs: record.acceptedAt - endOf(2),
      committeeSize: 4
    })
  })

  it('GET /contract/epochs honours from and limit', async () => {
    const a = await api()
    const two = (await get(a, '/contract/epochs?limit=2')).json() as { epochs: EpochSummary[] }
    expect(two.epochs.map((e) => e.epoch)).toEqual([4, 3])
    const from = (await get(a, '/contract/epochs?from=2&limit=5')).json() as { currentEpoch: number, epochs: EpochSummary[] }
    expect(from.currentEpoch).toBe(4)
    expect(from.epochs.map((e) => e.epoch)).toEqual([2, 1])
    const future = (await get(a, '/contract/epochs?from=6&limit=3')).json() as { epochs: EpochSummary[] }
    expect(future.epochs.map((e) => [e.epoch, e.status])).toEqual([[6, 'open'], [5, 'open'], [4, 'open']])
  })

  it.each(['0', '1001', 'abc', '1.5', '-1', ''])('GET /contract/epochs?limit=%s → 400', async (limit) => {
    const a = await api()
    const res = await get(a, `/contract/epochs?limit=${limit}`)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'ERR_BAD_REQUEST' })
  })

  it.each(['abc', '0', '-2', '1e3'])('GET /contract/epochs?from=%s → 400', async (from) => {
    const a = await api()
    const res = await get(a, `/contract/epochs?from=${from}`)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'ERR_BAD_REQUEST' })
  })

  it('GET /contract/epochs/:e → 404 ERR_NOT_FOUND before a record, the record after', async () => {
    const a = await api()
    const missing = await get(a, '/contract/epochs/3')
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({ error: 'ERR_NOT_FOUND', message: 'epoch 3 has no accepted submission' })
    const running = await get(a, '/contract/epochs/4')
    expect(running.statusCode).toBe(404)
    expect(running.json().message).toMatch(/it has not ended yet/)

    expect((await submitSigned(a, 3, consensusSubmission({ epoch: 3 }).submission, 2)).statusCode).toBe(200)
    const found = await get(a, '/contract/epochs/3')
    expect(found.statusCode).toBe(200)
    expect(found.json()).toEqual(await a.coordinator.record(3))
    expect((found.json() as EpochRecordJson).winner).toEqual(member(2))
    // served as stored: the committed JSON text itself, as JSON
    expect(found.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(found.body).toBe(a.store.byEpoch.get(3))
    // the round is gone with the commit: its 404 says so
    const round = await get(a, '/contract/epochs/3/round')
    expect(round.statusCode).toBe(404)
    expect(round.json().message).toBe('epoch 3 has no open or failed round (it is committed: GET /contract/epochs/3)')

    const verification = await get(a, '/contract/epochs/3/verification')
    expect(verification.statusCode).toBe(200)
    expect(verification.json()).toMatchObject({ ok: true, signers: 4, quorum: 3 })
  })

  it.each(['abc', '0', '1.0', '99999999999999999999'])('GET /contract/epochs/%s → 400', async (epoch) => {
    const a = await api()
    const res = await get(a, `/contract/epochs/${epoch}`)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'ERR_BAD_REQUEST' })
  })
})

describe('the audit trail', () => {
  it('one info line per decision: an accepted submission, and a refused one with its reason', async () => {
    const lines: Array<Record<string, unknown>> = []
    const audit = pino({ level: 'info' }, { write (line: string) { lines.push(JSON.parse(line) as Record<string, unknown>) } })
    const a = await api({ audit })
    expect((await submitSigned(a, 3, consensusSubmission({ epoch: 3 }).submission, 3)).statusCode).toBe(200)
    const bad = consensusSubmission({ epoch: 2 }).submission
    bad.rewards[0] = { ...bad.rewards[0] as typeof bad.rewards[number], reward: '1' }
    expect((await submitSigned(a, 2, bad, 1)).statusCode).toBe(422)
    const decisions = lines.filter((l) => l.audit === 'submission')
    expect(decisions.map((l) => [l.level, l.epoch, l.node, l.outcome])).toEqual([[30, 3, 'node4', 'accepted'], [30, 2, 'node2', 'refused']])
    expect(decisions[1]?.code).toBe('ERR_SUBMISSION_INVALID')
    expect(String(decisions[1]?.reason)).toMatch(/refused/)
    expect(String(decisions[1]?.msg)).toMatch(/^submission refused: /)
  })
})

describe('coordinator API: POST /contract/epochs/:e/submissions', () => {
  it('accepts a correctly signed valid submission → 200 with the winner and latency', async () => {
    const a = await api()
    const res = await submitSigned(a, 3, consensusSubmission({ epoch: 3 }).submission, 3)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'accepted', epoch: 3, winner: member(3), acceptedAt: a.clock.now, latencyMs: a.clock.now - endOf(3) })
    const record = await a.coordinator.record(3) as EpochRecordJson
    expect(record.submission).toEqual(consensusSubmission({ epoch: 3 }).submission)
  })

  it('refuses an unsigned request → 401 ERR_UNAUTHORIZED', async () => {
    const a = await api()
    const body = JSON.stringify(consensusSubmission({ epoch: 3 }).submission)
    const res = await post(a, 3, body, { 'content-type': 'application/json' })
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ error: 'ERR_UNAUTHORIZED', message: expect.stringMatching(/missing header ephemera-key/) })
    expect(await a.coordinator.record(3)).toBeUndefined()
  })

  it('refuses a signature over other bytes (body re-serialised, other epoch path) → 401', async () => {
    const a = await api()
    const submission = consensusSubmission({ epoch: 3 }).submission
    const body = JSON.stringify(submission)
    const headers = signed(KEYS[0] as NodeKey, 3, body, a.clock.now)
    const pretty = await post(a, 3, JSON.stringify(submission, null, 1), headers)
    expect(pretty.statusCode).toBe(401)
    expect(pretty.json().message).toMatch(/does not verify/)
    const otherPath = await post(a, 2, body, signed(KEYS[0] as NodeKey, 3, body, a.clock.now))
    expect(otherPath.statusCode).toBe(401)
  })

  it('refuses replayed headers → 401 replayed', async () => {
    const a = await api()
    const body = JSON.stringify(consensusSubmission({ epoch: 3 }).submission)
    const headers = signed(KEYS[1] as NodeKey, 3, body, a.clock.now)
    expect((await post(a, 3, body, headers)).statusCode).toBe(200)
    const replay = await post(a, 3, body, headers)
    expect(replay.statusCode).toBe(401)
    expect(replay.json()).toMatchObject({ error: 'ERR_UNAUTHORIZED', message: expect.stringMatching(/replayed/) })
  })

  it('refuses a signer outside the committee → 403', async () => {
    const a = await api()
    const body = JSON.stringify(consensusSubmission({ epoch: 3 }).submission)
    const res = await post(a, 3, body, signed(OUTSIDER, 3, body, a.clock.now))
    expect(res.statusCode).toBe(403)
    expect(res.json()).toMatchObject({ error: 'ERR_FORBIDDEN' })
  })

  it('refuses a body that is not JSON → 400', async () => {
    const a = await api()
    const body = '{"mode": "consensus",'
    const res = await post(a, 3, body, signed(KEYS[0] as NodeKey, 3, body, a.clock.now))
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: 'body is not valid JSON' })
  })

  it.each([
    ['an unknown mode', (s: Record<string, unknown>) => ({ ...s, mode: 'solo' })],
    ['no reports array', (s: Record<string, unknown>) => ({ ...s, reports: 'none' })],
    ['a reward that is not a decimal string', (s: Record<string, unknown>) => ({ ...s, rewards: [{ mixnode: 0, performance: 1, values: 1, reward: '-5' }] })],
    ['an empty object', () => ({})],
    ['an array', () => []],
    ['null', () => null]
  ])('refuses a malformed submission shape (%s) → 400', async (_name, mutate) => {
    const a = await api()
    const body = JSON.stringify(mutate(consensusSubmission({ epoch: 3 }).submission as unknown as Record<string, unknown>))
    const res = await post(a, 3, body, signed(KEYS[0] as NodeKey, 3, body, a.clock.now))
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ error: 'ERR_BAD_REQUEST', message: expect.stringMatching(/^malformed submission/) })
  })

  it('refuses an invalid submission → 422 with the checks', async () => {
    const a = await api()
    const s = clone(consensusSubmission({ epoch: 3 }).submission)
    ;(s.rewards[1] as { reward: string }).reward = '999999'
    const res = await submitSigned(a, 3, s)
    expect(res.statusCode).toBe(422)
    const body = res.json() as { error: string, message: string, checks: Array<{ name: string, ok: boolean, detail: string }> }
    expect(body.error).toBe('ERR_SUBMISSION_INVALID')
    expect(body.message).toMatch(/rewards: rewards\[1\]\.reward is "999999"/)
    expect(Array.isArray(body.checks)).toBe(true)
    expect(body.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['rewards'])
    expect(body.checks.find((c) => c.name === 'quorum')?.ok).toBe(true)

    const belowQuorum = await submitSigned(a, 3, consensusSubmission({ epoch: 3, signers: [1, 2] }).submission, 1)
    expect(belowQuorum.statusCode).toBe(422)
    expect(belowQuorum.json().checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['quorum'])
  })

  it('answers a decided epoch → 409 with the winning record', async () => {
    const a = await api()
    expect((await submitSigned(a, 2, consensusSubmission({ epoch: 2 }).submission, 0)).statusCode).toBe(200)
    const winner = await a.coordinator.record(2)
    a.clock.now += 10
    const res = await submitSigned(a, 2, consensusSubmission({ epoch: 2, creator: 1 }).submission, 1)
    expect(res.statusCode).toBe(409)
    const body = res.json() as { error: string, record: EpochRecordJson }
    expect(body.error).toBe('ERR_EPOCH_DECIDED')
    expect(body.record).toEqual(winner)
    expect(body.record.winner).toEqual(member(0))
  })

  it('answers an epoch that has not ended → 425, a bad epoch in the path → 400', async () => {
    const a = await api()
    const early = await submitSigned(a, 4, consensusSubmission({ epoch: 4 }).submission)
    expect(early.statusCode).toBe(425)
    expect(early.json()).toMatchObject({ error: 'ERR_EPOCH_NOT_READY' })
    const body = JSON.stringify(consensusSubmission({ epoch: 3 }).submission)
    const bad = await post(a, 'abc', body, signed(KEYS[0] as NodeKey, 'abc', body, a.clock.now))
    expect(bad.statusCode).toBe(400)
  })

  it('refuses standalone submissions when not allowed → 403, accepts them when allowed', async () => {
    const closed = await api()
    const refused = await submitSigned(closed, 3, standaloneSubmission(3, 0), 0)
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toMatchObject({ error: 'ERR_FORBIDDEN' })
    const open = await api({ allowStandalone: true })
    const accepted = await submitSigned(open, 3, standaloneSubmission(3, 0), 0)
    expect(accepted.statusCode).toBe(200)
    expect((await open.coordinator.record(3))?.submission.mode).toBe('standalone')
  })

  it('two members racing over HTTP: one 200, one 409', async () => {
    const a = await api()
    const [r1, r2] = await Promise.all([
      submitSigned(a, 3, consensusSubmission({ epoch: 3, creator: 0 }).submission, 0),
      submitSigned(a, 3, consensusSubmission({ epoch: 3, creator: 1 }).submission, 1)
    ])
    expect([r1?.statusCode, r2?.statusCode].sort()).toEqual([200, 409])
  })
})

describe('GET /contract/epochs/{e}/round', () => {
  it('serves the whole round, or with member=KEY only the chunks offered to that member or that it verifies, without events; a bad key is 400', async () => {
    const a = await api()
    await a.coordinator.update()
    const whole = await a.server.app.inject({ method: 'GET', url: '/contract/epochs/3/round' })
    expect(whole.statusCode, whole.body).toBe(200)
    const round = whole.json<{ chunks: Array<{ index: number, lease: { holder: string }, verifiers: string[] }>, progress: { chunks: number }, version: number }>()
    expect(round.chunks.length).toBe(round.progress.chunks)
    const seen: number[] = []
    for (const k of KEYS) {
      const key = Buffer.from(k.publicKey).toString('hex')
      const res = await a.server.app.inject({ method: 'GET', url: `/contract/epochs/3/round?member=${key.toUpperCase()}` })
      expect(res.statusCode, res.body).toBe(200)
      const mine = res.json<{ chunks: Array<{ index: number, lease: { holder: string } }>, events: unknown[], progress: { chunks: number }, version: number }>()
      expect(mine.events).toEqual([])
      expect(mine.progress).toEqual(round.progress)
      expect(mine.version).toBe(round.version)
      expect(mine.chunks.map((c) => c.index)).toEqual(round.chunks.filter((c) => c.lease.holder === key || c.verifiers.includes(key)).map((c) => c.index))
      seen.push(...mine.chunks.filter((c) => c.lease.holder === key).map((c) => c.index))
    }
    expect(seen.sort((x, y) => x - y)).toEqual(round.chunks.map((c) => c.index))
    const bad = await a.server.app.inject({ method: 'GET', url: '/contract/epochs/3/round?member=zz' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ error: 'ERR_BAD_REQUEST' })
  })
})
