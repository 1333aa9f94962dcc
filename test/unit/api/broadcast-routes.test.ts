import { pino } from 'pino'
import { afterEach, describe, it, expect, vi } from 'vitest'
import { HttpServer, registerBroadcastRoutes } from '../../../src/api/index.js'
import { messageId } from '../../../src/block/encoding.js'
import { blockToJson, certificateToJson, messageToJson } from '../../../src/block/json.js'
import { Mempool } from '../../../src/block/mempool.js'
import type { ClientMessage } from '../../../src/block/types.js'
import type { BroadcastEngine, DeliveredBlock } from '../../../src/broadcast/index.js'
import { fromHex, toHex } from '../../../src/codec/bytes.js'
import { verifyInclusion } from '../../../src/crypto/merkle.js'
import { BlockStore, Database, type StoredMember } from '../../../src/storage/index.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { certifiedBlock, key, members, signedMessage, type Certified } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

const keys = members(4)
const client = key(0x0c)
const storedMembers: StoredMember[] = keys.map((k, i) => ({ name: `node${i + 1}`, publicKey: toHex(k.publicKey), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))

const msgs = Array.from({ length: 5 }, (_, i) => signedMessage(client, { label: `m${i}`, data: `payload ${i}` }))
const blocks: Certified[] = [
  certifiedBlock({ members: keys, creator: 1, round: 1, height: 1, messages: msgs.slice(0, 3), signers: [0, 1, 2] }),
  certifiedBlock({ members: keys, creator: 2, round: 2, height: 1, messages: msgs.slice(3, 5), signers: [1, 2, 3] }),
  certifiedBlock({ members: keys, creator: 1, round: 3, height: 2, messages: [], signers: [3, 2, 1, 0] })
]
const bx = (i: number): Certified => blocks[i] as Certified
const DELIVERED_AT = ['2024-05-01T00:00:01.000Z', '2024-05-01T00:00:02.000Z', '2024-05-01T00:00:03.000Z']

interface Harness {
  server: HttpServer
  store: BlockStore
  mempool: Mempool
  submitMessage: ReturnType<typeof vi.fn<(m: ClientMessage) => Promise<{ id: string, status: 'accepted' }>>>
  emit: (d: DeliveredBlock) => void
  logs: Array<Record<string, unknown>>
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function setup (opts: { deliver?: number } = {}): Promise<Harness> {
  const db = await Database.open(await tempDir())
  cleanups.push(async () => { await db.close() })
  const store = await BlockStore.open(db)
  for (let i = 0; i < (opts.deliver ?? blocks.length); i++) {
    const c = bx(i)
    await store.deliver({ hash: c.hash, block: c.block, certificate: c.certificate, membershipId: c.membershipId, members: storedMembers, deliveredAt: new Date(DELIVERED_AT[i] as string) })
  }
  const mempool = new Mempool({ maxMessages: 100, maxBytes: 1_000_000, maxAgeMs: 60_000 })
  const submitMessage = vi.fn(async (m: ClientMessage) => ({ id: toHex(messageId(m)), status: 'accepted' as const }))
  const listeners = new Set<(d: DeliveredBlock) => void>()
  const engine = {
    store,
    mempool,
    submitMessage,
    stats: () => ({
      mempool: { messages: mempool.size, bytes: mempool.bytes },
      delivered: 3,
      proposed: 1,
      rejected: 0,
      equivocations: 0,
      openInstances: 2,
      transport: { sent: 1, retransmitted: 0, received: 2, bytesSent: 3, queued: 0, dropped: 0 }
    }),
    lastProposedRound: 3,
    pendingOwnRounds: [4],
    membershipId: bx(0).membershipId,
    quorum: 3,
    onDelivered: (listener: (d: DeliveredBlock) => void) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write (line: string) { logs.push(JSON.parse(line) as Record<string, unknown>) } })
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, logger)
  cleanups.push(async () => { await server.app.close() })
  registerBroadcastRoutes(server.app, engine as unknown as BroadcastEngine)
  await server.app.ready()
  return { server, store, mempool, submitMessage, emit: (d) => { for (const l of listeners) l(d) }, logs }
}

async function get (h: Harness, url: string): Promise<{ status: number, body: any }> {
  const res = await h.server.app.inject({ method: 'GET', url })
  return { status: res.statusCode, body: res.json() }
}

async function post (h: Harness, url: string, payload: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any }> {
  const res = await h.server.app.inject({ method: 'POST', url, payload: payload as string, headers })
  return { status: res.statusCode, body: res.json() }
}

function expectError (res: { status: number, body: any }, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status)
  expect(res.body).toEqual({ error: code, message: expect.any(String) })
}

const json = <T>(v: T): unknown => JSON.parse(JSON.stringify(v))

describe('block routes', () => {
  it('GET block by hash returns the block JSON with its local height and delivery time', async () => {
    const h = await setup()
    const c = bx(1)
    const res = await get(h, `/ephemera/broadcast/block/${toHex(c.hash)}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ ...json(blockToJson(c.block, c.hash)) as object, localHeight: 2, deliveredAt: DELIVERED_AT[1] })
    expect(res.body.header.creator).toBe((keys[2] as (typeof keys)[number]).peerId.toString())
    expect(res.body.messages.map((m: { id: string }) => m.id)).toEqual(c.block.messages.map((m) => toHex(messageId(m))))
    // upper-case hex is accepted and normalised
    const upper = await get(h, `/ephemera/broadcast/block/${toHex(c.hash).toUpperCase()}`)
    expect(upper.status).toBe(200)
    expect(upper.body.hash).toBe(toHex(c.hash))
  })

  it('GET block by hash: malformed → 400, unknown → 404', async () => {
    const h = await setup()
    for (const bad of ['abc', 'zz'.repeat(32), toHex(bx(0).hash).slice(2), toHex(bx(0).hash) + '00']) {
      expectError(await get(h, `/ephemera/broadcast/block/${bad}`), 400, ErrorCode.BAD_REQUEST)
    }
    expectError(await get(h, `/ephemera/broadcast/block/${'ab'.repeat(32)}`), 404, ErrorCode.NOT_FOUND)
  })

  it('GET block by local height', async () => {
    const h = await setup()
    for (let i = 0; i < 3; i++) {
      const res = await get(h, `/ephemera/broadcast/block/height/${i + 1}`)
      expect(res.status).toBe(200)
      expect(res.body.hash).toBe(toHex(bx(i).hash))
      expect(res.body.localHeight).toBe(i + 1)
    }
    const missing = await get(h, '/ephemera/broadcast/block/height/4')
    expectError(missing, 404, ErrorCode.NOT_FOUND)
    expect(missing.body.message).toContain('last is 3')
    for (const bad of ['0', '-1', 'abc', '1.5', '1e2', '99999999999999999999', '%20']) {
      expectError(await get(h, `/ephemera/broadcast/block/height/${bad}`), 400, ErrorCode.BAD_REQUEST)
    }
  })

  it('GET last block; 404 when no block was delivered yet', async () => {
    const empty = await setup({ deliver: 0 })
    const none = await get(empty, '/ephemera/broadcast/blocks/last')
    expectError(none, 404, ErrorCode.NOT_FOUND)
    expect(none.body.message).toMatch(/no block delivered yet/)
    expectError(await get(empty, '/ephemera/broadcast/block/height/1'), 404, ErrorCode.NOT_FOUND)
    expect((await get(empty, '/ephemera/broadcast/blocks')).body).toEqual({ lastHeight: 0, blocks: [] })

    const h = await setup()
    const res = await get(h, '/ephemera/broadcast/blocks/last')
    expect(res.status).toBe(200)
    expect(res.body.hash).toBe(toHex(bx(2).hash))
    expect(res.body.localHeight).toBe(3)
  })

  it('GET blocks lists newest first by default, with order, limit and from', async () => {
    const h = await setup()
    const summary = (i: number): unknown => {
      const c = bx(i)
      return {
        localHeight: i + 1,
        hash: toHex(c.hash),
        round: c.block.header.round,
        creator: blockToJson(c.block, c.hash).header.creator,
        height: c.block.header.height,
        createdAt: c.block.header.createdAt,
        messageCount: c.block.messages.length,
        deliveredAt: DELIVERED_AT[i]
      }
    }
    const all = await get(h, '/ephemera/broadcast/blocks')
    expect(all.status).toBe(200)
    expect(all.body).toEqual({ lastHeight: 3, blocks: [summary(2), summary(1), summary(0)] })
    expect((await get(h, '/ephemera/broadcast/blocks?order=desc')).body.blocks.map((b: { localHeight: number }) => b.localHeight)).toEqual([3, 2, 1])
    expect((await get(h, '/ephemera/broadcast/blocks?order=asc')).body.blocks).toEqual([summary(0), summary(1), summary(2)])
    expect((await get(h, '/ephemera/broadcast/blocks?order=asc&limit=2')).body.blocks).toEqual([summary(0), summary(1)])
    expect((await get(h, '/ephemera/broadcast/blocks?limit=1')).body.blocks).toEqual([summary(2)])
    expect((await get(h, '/ephemera/broadcast/blocks?order=asc&from=2')).body.blocks).toEqual([summary(1), summary(2)])
    expect((await get(h, '/ephemera/broadcast/blocks?order=desc&from=2')).body.blocks).toEqual([summary(1), summary(0)])
    expect((await get(h, '/ephemera/broadcast/blocks?order=asc&from=2&limit=1')).body.blocks).toEqual([summary(1)])
    expect((await get(h, '/ephemera/broadcast/blocks?limit=1000')).body.blocks).toHaveLength(3)
    // a list reads each block's stored summary, never the block itself (blocks may be 8 MiB)
    const reads = vi.spyOn(h.store, 'block')
    expect((await get(h, '/ephemera/broadcast/blocks?limit=1000')).body).toEqual(all.body)
    expect(reads).not.toHaveBeenCalled()
  })

  it.each([
    'order=up', 'order=', 'order=ASC', 'limit=0', 'limit=-1', 'limit=abc', 'limit=1001', 'limit=2.5', 'from=0', 'from=x', 'from=-3'
  ])('GET blocks?%s → 400 ERR_BAD_REQUEST', async (query) => {
    const h = await setup()
    expectError(await get(h, `/ephemera/broadcast/blocks?${query}`), 400, ErrorCode.BAD_REQUEST)
  })
})

describe('certificates and broadcast_info', () => {
  it('GET certificates returns the certificate JSON', async () => {
    const h = await setup()
    const c = bx(2)
    const res = await get(h, `/ephemera/broadcast/block/certificates/${toHex(c.hash)}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual(json(certificateToJson(c.certificate)))
    expect(res.body).toMatchObject({ blockHash: toHex(c.hash), round: 3, creatorPublicKey: toHex((keys[1] as (typeof keys)[number]).publicKey) })
    expect(res.body.signatures).toHaveLength(4)
    expect(res.body.signatures[0]).toEqual({
      signer: (keys[3] as (typeof keys)[number]).peerId.toString(),
      publicKey: toHex((keys[3] as (typeof keys)[number]).publicKey),
      signature: toHex(c.certificate.signatures[0]?.signature as Uint8Array)
    })
    expectError(await get(h, `/ephemera/broadcast/block/certificates/${'cd'.repeat(32)}`), 404, ErrorCode.NOT_FOUND)
    expectError(await get(h, '/ephemera/broadcast/block/certificates/nothex'), 400, ErrorCode.BAD_REQUEST)
  })

  it('GET broadcast_info returns membership, quorum and members with PeerIds', async () => {
    const h = await setup()
    const c = bx(0)
    const res = await get(h, `/ephemera/broadcast/block/broadcast_info/${toHex(c.hash)}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      blockHash: toHex(c.hash),
      round: 1,
      creator: (keys[1] as (typeof keys)[number]).peerId.toString(),
      localHeight: 1,
      deliveredAt: DELIVERED_AT[0],
      membershipId: toHex(c.membershipId),
      size: 4,
      maxFaulty: 1,
      quorum: 3,
      members: keys.map((k, i) => ({ name: `node${i + 1}`, peerId: k.peerId.toString(), publicKey: toHex(k.publicKey), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))
    })
    expectError(await get(h, `/ephemera/broadcast/block/broadcast_info/${'ef'.repeat(32)}`), 404, ErrorCode.NOT_FOUND)
    expectError(await get(h, '/ephemera/broadcast/block/broadcast_info/12'), 400, ErrorCode.BAD_REQUEST)
  })
})

describe('POST /ephemera/messages/verify', () => {
  it('returns an inclusion proof that verifies, for every message of a block', async () => {
    const h = await setup()
    const c = bx(0)
    for (const [index, m] of c.block.messages.entries()) {
      const id = toHex(messageId(m))
      const res = await post(h, '/ephemera/messages/verify', { blockHash: toHex(c.hash), messageId: id })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ blockHash: toHex(c.hash), messageId: id, messagesRoot: toHex(c.block.header.messagesRoot), verified: true })
      expect(res.body.proof).toMatchObject({ index, treeSize: 3 })
      const proof = { index: res.body.proof.index as number, treeSize: res.body.proof.treeSize as number, path: (res.body.proof.path as string[]).map((p) => fromHex(p, 32) as Uint8Array) }
      expect(verifyInclusion(fromHex(id) as Uint8Array, proof, c.block.header.messagesRoot)).toBe(true)
      // and the proof binds the message: another id does not verify with it
      expect(verifyInclusion(messageId(msgs[4] as ClientMessage), proof, c.block.header.messagesRoot)).toBe(false)
    }
  })

  it('accepts upper-case hex', async () => {
    const h = await setup()
    const c = bx(1)
    const res = await post(h, '/ephemera/messages/verify', { blockHash: toHex(c.hash).toUpperCase(), messageId: toHex(messageId(msgs[3] as ClientMessage)).toUpperCase() })
    expect(res.status).toBe(200)
    expect(res.body.verified).toBe(true)
    expect(res.body.proof.index).toBe(0)
  })

  it('404 for a message that is not in the block, or an unknown block', async () => {
    const h = await setup()
    const notHere = await post(h, '/ephemera/messages/verify', { blockHash: toHex(bx(0).hash), messageId: toHex(messageId(msgs[3] as ClientMessage)) })
    expectError(notHere, 404, ErrorCode.NOT_FOUND)
    expectError(await post(h, '/ephemera/messages/verify', { blockHash: toHex(bx(2).hash), messageId: toHex(messageId(msgs[0] as ClientMessage)) }), 404, ErrorCode.NOT_FOUND)
    expectError(await post(h, '/ephemera/messages/verify', { blockHash: '01'.repeat(32), messageId: toHex(messageId(msgs[0] as ClientMessage)) }), 404, ErrorCode.NOT_FOUND)
  })

  it.each<[string, unknown]>([
    ['a short block hash', { blockHash: 'abcd', messageId: '00'.repeat(32) }],
    ['a non-hex message id', { blockHash: '00'.repeat(32), messageId: 'xy'.repeat(32) }],
    ['a numeric block hash', { blockHash: 1, messageId: '00'.repeat(32) }],
    ['a missing message id', { blockHash: '00'.repeat(32) }],
    ['an empty object', {}],
    ['an array', ['00'.repeat(32), '00'.repeat(32)]],
    ['a JSON string', '"hello"'],
    ['JSON null', 'null']
  ])('400 for %s', async (_name, body) => {
    const h = await setup()
    const payload = typeof body === 'string' ? body : JSON.stringify(body)
    expectError(await post(h, '/ephemera/messages/verify', payload, { 'content-type': 'application/json' }), 400, ErrorCode.BAD_REQUEST)
  })
})

describe('POST /ephemera/broadcast/submit_message', () => {
  const m = signedMessage(client, { label: 'submit', data: 'body' })
  const body = (): Record<string, unknown> => {
    const { id: _id, ...rest } = messageToJson(m)
    return rest
  }

  it('hands the parsed message to the engine and returns its answer', async () => {
    const h = await setup()
    const res = await post(h, '/ephemera/broadcast/submit_message', body())
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ id: toHex(messageId(m)), status: 'accepted' })
    expect(h.submitMessage).toHaveBeenCalledTimes(1)
    const got = h.submitMessage.mock.calls[0]?.[0] as ClientMessage
    expect(toHex(messageId(got))).toBe(toHex(messageId(m)))
    expect(got).toMatchObject({ timestamp: m.timestamp, label: 'submit' })
  })

  it.each<[string, string, Record<string, string>?]>([
    ['invalid JSON', '{"timestamp": 1,', { 'content-type': 'application/json' }],
    ['an empty JSON body', '', { 'content-type': 'application/json' }],
    ['JSON null', 'null', { 'content-type': 'application/json' }],
    ['a JSON array', '[]', { 'content-type': 'application/json' }],
    ['a JSON number', '42', { 'content-type': 'application/json' }],
    ['a text/plain body', 'hello', { 'content-type': 'text/plain' }],
    ['a __proto__ key', '{"__proto__": {"x": 1}}', { 'content-type': 'application/json' }],
    ['an empty object', '{}', { 'content-type': 'application/json' }]
  ])('400 for %s (never 500)', async (_name, payload, headers) => {
    const h = await setup()
    expectError(await post(h, '/ephemera/broadcast/submit_message', payload, headers), 400, ErrorCode.BAD_REQUEST)
    expect(h.submitMessage).not.toHaveBeenCalled()
  })

  it.each<[string, Record<string, unknown>, string]>([
    ['bad base64 data', { data: 'QQ=' }, 'data'],
    ['a short public key', { publicKey: 'ab'.repeat(31) }, 'publicKey'],
    ['a short signature', { signature: 'ab'.repeat(63) }, 'signature'],
    ['a fractional timestamp', { timestamp: 1.5 }, 'timestamp'],
    ['a string timestamp', { timestamp: 'now' }, 'timestamp'],
    ['a missing label', { label: undefined }, 'label'],
    ['a numeric label', { label: 7 }, 'label']
  ])('400 naming the field for %s', async (_name, patch, field) => {
    const h = await setup()
    const res = await post(h, '/ephemera/broadcast/submit_message', { ...body(), ...patch })
    expectError(res, 400, ErrorCode.BAD_REQUEST)
    expect(res.body.message).toContain(`invalid message: ${field}: `)
    expect(h.submitMessage).not.toHaveBeenCalled()
  })

  it('a body over the 1 MiB limit is refused with a 4xx, not a 500', async () => {
    const h = await setup()
    const res = await post(h, '/ephemera/broadcast/submit_message', { ...body(), data: 'A'.repeat(2 * 1024 * 1024) })
    expect(res.status).toBe(413)
    expect(res.body.error).toBe(ErrorCode.BAD_REQUEST)
  })

  it.each<[string, string, number]>([
    ['DUPLICATE', ErrorCode.DUPLICATE, 409],
    ['MEMPOOL_FULL', ErrorCode.MEMPOOL_FULL, 429],
    ['MESSAGE_REJECTED', ErrorCode.MESSAGE_REJECTED, 400]
  ])('engine error %s → HTTP %i with its code', async (_name, code, status) => {
    const h = await setup()
    h.submitMessage.mockRejectedValueOnce(new EphemeraError(code as typeof ErrorCode.DUPLICATE, `refused: ${code}`))
    const res = await post(h, '/ephemera/broadcast/submit_message', body())
    expect(res.status).toBe(status)
    expect(res.body).toEqual({ error: code, message: `refused: ${code}` })
  })

  it('an unexpected engine error → 500 with a generic body, logged', async () => {
    const h = await setup()
    h.submitMessage.mockRejectedValueOnce(new Error('secret detail'))
    const res = await post(h, '/ephemera/broadcast/submit_message', body())
    expect(res.status).toBe(500)
    expect(res.body).toEqual({ error: 'ERR_INTERNAL', message: 'internal error' })
    expect(JSON.stringify(res.body)).not.toContain('secret')
    expect(h.logs.some((l) => l.msg === 'unexpected error in HTTP handler')).toBe(true)
  })
})

describe('GET /ephemera/messages/:id', () => {
  it('delivered, pending and unknown messages', async () => {
    const h = await setup()
    const delivered = msgs[4] as ClientMessage
    const dres = await get(h, `/ephemera/messages/${toHex(messageId(delivered))}`)
    expect(dres.status).toBe(200)
    expect(dres.body).toEqual({ id: toHex(messageId(delivered)), status: 'delivered', blockHash: toHex(bx(1).hash), index: 1, locations: [{ blockHash: toHex(bx(1).hash), index: 1 }] })

    const pending = signedMessage(client, { label: 'waiting' })
    const pid = toHex(messageId(pending))
    expectError(await get(h, `/ephemera/messages/${pid}`), 404, ErrorCode.NOT_FOUND)
    expect(h.mempool.add(pid, pending, Date.now())).toBe('added')
    expect((await get(h, `/ephemera/messages/${pid}`)).body).toEqual({ id: pid, status: 'pending' })
    expect((await get(h, `/ephemera/messages/${pid.toUpperCase()}`)).body).toEqual({ id: pid, status: 'pending' })

    expectError(await get(h, `/ephemera/messages/${'12'.repeat(32)}`), 404, ErrorCode.NOT_FOUND)
    expectError(await get(h, '/ephemera/messages/1234'), 400, ErrorCode.BAD_REQUEST)
  })
})

describe('status', () => {
  // WS /ephemera/broadcast/ws is registerWsRoutes: test/unit/api/ws-routes.test.ts
  it('GET status merges engine stats with store and membership facts', async () => {
    const h = await setup()
    const res = await get(h, '/ephemera/broadcast/status')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({
      mempool: { messages: 0, bytes: 0 },
      delivered: 3,
      lastHeight: 3,
      lastProposedRound: 3,
      pendingOwnRounds: [4],
      membershipId: toHex(bx(0).membershipId),
      quorum: 3
    })
  })
})
