import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type WebSocket from 'ws'
import { HttpServer, NodeEvents, registerWsRoutes, WS_BLOCKS_PATH, WS_CLOSE_POLICY, WS_CLOSE_SERVER_ERROR, WS_CLOSE_TOO_SLOW, type BlockReader, type WsEventHub, type WsRoutesOptions } from '../../../src/api/index.js'
import { committedSummary } from '../../../src/epochs/epoch-summary.js'
import { blockToJson } from '../../../src/block/json.js'
import type { DeliveredBlock } from '../../../src/broadcast/index.js'
import { toHex } from '../../../src/codec/bytes.js'
import type { CommitteeChangeJson } from '../../../src/epochs/committee-chain.js'
import type { EpochRecordJson } from '../../../src/epochs/record.js'
import type { EvidenceEvent } from '../../../src/rewards/evidence-submitter.js'
import { BlockStore, Database, type StoredMember } from '../../../src/storage/index.js'
import { certifiedBlock, key, members, signedMessage, type Certified } from '../block/fixtures.js'
import { waitFor } from '../../helpers/env.js'
import { wsConnect, wsRefused, type WsTestClient } from '../../helpers/ws-client.js'
import { tempDir } from '../tmp.js'

/**
 * WS /ephemera/broadcast/ws beyond the live push, over a real BlockStore: `?types=` (default block
 * only), the `?from_height=` replay with live blocks delivered while it runs (no gap, no
 * duplicate), a replay that waits for a slow reader, the bounds driven past (held live events, the
 * replay length), and the JSON errors of a bad query or a plain GET.
 */

const keys = members(4)
const client = key(0x0c)
const storedMembers: StoredMember[] = keys.map((k, i) => ({ name: `node${i + 1}`, publicKey: toHex(k.publicKey), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))
/** Block i (1-based) of round i; `big` blocks carry two messages of 48 KiB (a frame of ~130 kB). */
const blockAt = (i: number, big = false): Certified => certifiedBlock({
  members: keys,
  creator: i % 4,
  round: i,
  messages: big ? [0, 1].map((j) => signedMessage(client, { label: `m${i}.${j}`, data: new Uint8Array(48 * 1024).fill((i + j) % 256) })) : [signedMessage(client, { label: `m${i}`, data: `block ${i}` })]
})
const blockFrame = (c: Certified, localHeight: number): unknown => JSON.parse(JSON.stringify({ type: 'block', block: { ...blockToJson(c.block, c.hash), localHeight } }))

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface Node {
  server: HttpServer
  hub: WsEventHub
  store: BlockStore
  events: NodeEvents
  url: string
  /** Runs before the replay reads a height (to deliver blocks while it runs). */
  beforeRead: Map<number, () => Promise<void>>
  /** Stores a block (as Delivery does: written first) and returns its height. */
  store1: (c: Certified) => Promise<number>
  /** Tells the listeners about a stored block (as Delivery does, after the write). */
  emit: (c: Certified, localHeight: number) => void
  deliver: (c: Certified) => Promise<number>
}

async function node (opts: Partial<WsRoutesOptions> = {}, reader?: (store: BlockStore, beforeRead: Node['beforeRead']) => BlockReader): Promise<Node> {
  const db = await Database.open(await tempDir())
  cleanups.push(async () => { await db.close() })
  const store = await BlockStore.open(db)
  const listeners = new Set<(d: DeliveredBlock) => void>()
  const beforeRead: Node['beforeRead'] = new Map()
  const blocks: BlockReader = reader?.(store, beforeRead) ?? {
    get lastHeight () { return store.lastHeight },
    atHeight: async (height) => {
      await beforeRead.get(height)?.()
      return await store.atHeight(height)
    }
  }
  const events = new NodeEvents()
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
  cleanups.push(async () => { await server.stop(); await server.app.close() })
  const hub = registerWsRoutes(server.app, { delivered: { onDelivered: (l) => { listeners.add(l); return () => { listeners.delete(l) } } }, blocks, events }, { maxClients: 8, maxBufferedBytes: 512 * 1024, maxReplay: 1000, ...opts })
  await server.start()
  const store1 = async (c: Certified): Promise<number> => await store.deliver({ hash: c.hash, block: c.block, certificate: c.certificate, membershipId: c.membershipId, members: storedMembers, deliveredAt: new Date(1_700_000_000_000) })
  const emit = (c: Certified, localHeight: number): void => { for (const l of [...listeners]) l({ hash: c.hash, block: c.block, certificate: c.certificate, localHeight }) }
  return { server, hub, store, events, url: `${server.url.replace('http', 'ws')}${WS_BLOCKS_PATH}`, beforeRead, store1, emit, deliver: async (c) => { const h = await store1(c); emit(c, h); return h } }
}

const connect = async (url: string, opts: { parse?: boolean } = {}): Promise<WsTestClient> => await wsConnect(url, (fn) => { cleanups.push(fn) }, opts)
const blockHeights = (c: WsTestClient): number[] => c.frames.filter((f) => f.type === 'block').map((f) => f.block.localHeight as number)
const serverSockets = (n: Node): WebSocket[] => [...n.server.app.websocketServer.clients] as unknown as WebSocket[]

const record = (epoch: number): EpochRecordJson => ({
  epoch, startMs: 1000 * epoch, endMs: 1000 * epoch + 1000,
  committee: { membershipId: 'ab'.repeat(32), members: [] },
  parameters: {} as EpochRecordJson['parameters'],
  submission: { mode: 'consensus', blockHash: 'cd'.repeat(32), header: null, certificate: null, reports: [], rewards: [] },
  winner: { name: 'node1', peerId: 'p', publicKey: 'ef'.repeat(32) },
  acceptedAt: 1000 * epoch + 1400,
  latencyMs: 400
})
const evidence: EvidenceEvent = { status: 'detected', kind: 'report-equivocation', hash: '12'.repeat(32), offender: '34'.repeat(32), epoch: 3 }
const change: CommitteeChangeJson = { effectiveEpoch: 9, decidedAt: 7, previousMembershipId: 'ab'.repeat(32), decisions: [], committee: { membershipId: 'ab'.repeat(32), members: [] } }

describe('WS /ephemera/broadcast/ws: event types', () => {
  it('without ?types a client gets block frames only (as before); with ?types exactly the types it names', async () => {
    const n = await node()
    const plain = await connect(n.url)
    const picked = await connect(`${n.url}?types=evidence,epoch`)
    const all = await connect(`${n.url}?types=block,epoch,committee,evidence`)
    await n.deliver(blockAt(1))
    n.events.epochAdopted(record(4))
    n.events.committeeLearned(change)
    n.events.evidence(evidence)
    await waitFor(() => all.frames.length === 4, { timeoutMs: 5_000, what: 'every frame' })
    await n.deliver(blockAt(2))
    await waitFor(() => plain.frames.length === 2 && picked.frames.length === 2 && all.frames.length === 5, { timeoutMs: 5_000, what: 'the second block' })
    expect(plain.frames).toEqual([blockFrame(blockAt(1), 1), blockFrame(blockAt(2), 2)])
    expect(picked.frames).toEqual([{ type: 'epoch', epoch: committedSummary(record(4)) }, { type: 'evidence', evidence }])
    expect(all.frames.map((f) => f.type)).toEqual(['block', 'epoch', 'committee', 'evidence', 'block'])
    expect(all.frames[2]).toEqual({ type: 'committee', committee: change })
  })
})

describe('WS /ephemera/broadcast/ws?from_height=H', () => {
  it('replays the stored blocks from H, then the held live events: blocks delivered during the replay arrive once, none is missed', async () => {
    const n = await node()
    for (let i = 1; i <= 5; i++) await n.deliver(blockAt(i))
    // stored before the client comes, its listeners told only after: both the replay and the live feed see it
    const h6 = await n.store1(blockAt(6))
    n.beforeRead.set(3, async () => {
      n.emit(blockAt(6), h6)
      await n.deliver(blockAt(7))
      n.events.evidence(evidence)
    })
    const c = await connect(`${n.url}?from_height=2&types=block,evidence`)
    await waitFor(() => blockHeights(c).includes(7), { timeoutMs: 10_000, what: 'block 7' })
    await n.deliver(blockAt(8))
    await waitFor(() => blockHeights(c).includes(8), { timeoutMs: 10_000, what: 'the live block 8' })
    expect(c.frames.map((f) => f.type === 'block' ? f.block.localHeight : f.type)).toEqual([2, 3, 4, 5, 6, 'replayed', 7, 'evidence', 8])
    expect(c.frames[5]).toEqual({ type: 'replayed', replayed: { fromHeight: 2, toHeight: 6, frames: 5 } })
    // a replayed frame is the live frame, byte for byte in content
    expect(c.frames[0]).toEqual(blockFrame(blockAt(2), 2))
    expect(c.frames[6]).toEqual(blockFrame(blockAt(7), 7))
    expect(n.hub.stats()).toMatchObject({ clients: 1, replaying: 0 })
  })

  it('from the next height: nothing to replay, the end frame, then live', async () => {
    const n = await node()
    for (let i = 1; i <= 3; i++) await n.deliver(blockAt(i))
    const c = await connect(`${n.url}?from_height=4`)
    await waitFor(() => c.frames.length === 1, { timeoutMs: 5_000, what: 'the end frame' })
    await n.deliver(blockAt(4))
    await waitFor(() => c.frames.length === 2, { timeoutMs: 5_000, what: 'block 4' })
    expect(c.frames).toEqual([{ type: 'replayed', replayed: { fromHeight: 4, toHeight: 3, frames: 0 } }, blockFrame(blockAt(4), 4)])
  })

  it('waits for a client that stops reading: its queue stays bounded and nothing is lost once it reads again', async () => {
    // through injectWS (in-memory streams): no kernel buffers (tens of MiB on loopback) between the two sides
    const max = 256 * 1024
    const n = await node({ maxBufferedBytes: max })
    const count = 40
    for (let i = 1; i <= count; i++) await n.store1(blockAt(i, true))
    const frameBytes = JSON.stringify(blockFrame(blockAt(count, true), count)).length
    const frames: Array<{ type: string, block?: { localHeight: number } }> = []
    const ws = await n.server.app.injectWS(`${WS_BLOCKS_PATH}?from_height=1`, {}, {
      onInit: (socket) => { socket.on('message', (data: Buffer) => { frames.push(JSON.parse(data.toString('utf8')) as typeof frames[number]) }) }
    })
    cleanups.push(() => { ws.terminate() })
    const stream = (ws as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
    stream.pause()
    let peak = 0
    await waitFor(() => {
      for (const s of serverSockets(n)) peak = Math.max(peak, s.bufferedAmount)
      return peak >= max
    }, { timeoutMs: 10_000, intervalMs: 2, what: 'the server-side queue to reach the bound' })
    for (let i = 0; i < 50; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      for (const s of serverSockets(n)) peak = Math.max(peak, s.bufferedAmount)
    }
    expect(peak).toBeLessThanOrEqual(max + frameBytes)
    expect(n.hub.stats()).toMatchObject({ clients: 1, replaying: 1, tooSlow: 0 })
    expect(frames.length).toBeLessThan(count / 2)
    stream.resume()
    await waitFor(() => frames.length === count + 1, { timeoutMs: 30_000, what: `all ${count} blocks and the end frame` })
    expect(frames.slice(0, count).map((f) => f.block?.localHeight)).toEqual(Array.from({ length: count }, (_, i) => i + 1))
    expect(frames[count]).toEqual({ type: 'replayed', replayed: { fromHeight: 1, toHeight: count, frames: count } })
    expect(n.hub.stats()).toMatchObject({ clients: 1, replaying: 0, tooSlow: 0 })
  }, 60_000)

  it('closes a client whose held live events go over the bound while its replay runs (1008), and lets go of everything', async () => {
    const max = 256 * 1024
    const n = await node({ maxBufferedBytes: max })
    await n.deliver(blockAt(1))
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    n.beforeRead.set(1, async () => { await gate })
    const c = await connect(`${n.url}?from_height=1`)
    await waitFor(() => n.hub.stats().replaying === 1, { timeoutMs: 5_000, what: 'the replay to start' })
    let delivered = 1
    while (n.hub.stats().tooSlow === 0) {
      if (delivered > 20) throw new Error('the held events were not bounded')
      await n.deliver(blockAt(++delivered, true))
    }
    // held until one more frame would go over the bound
    const frameBytes = JSON.stringify(blockFrame(blockAt(2, true), 2)).length
    expect(delivered - 1).toBe(Math.floor(max / frameBytes) + 1)
    expect(await c.closed).toEqual({ code: WS_CLOSE_TOO_SLOW, reason: `client too slow: send buffer over ${max} bytes` })
    expect(n.hub.stats()).toMatchObject({ clients: 0, replaying: 0, subscribed: false, tooSlow: 1 })
    release()
    expect(c.frames).toEqual([])
  })
})

describe('WS /ephemera/broadcast/ws: refusals', () => {
  it('a bad query is answered 400 with {error, message} and not upgraded; a plain GET is 426 whatever its query', async () => {
    const n = await node({ maxReplay: 3 })
    for (let i = 1; i <= 5; i++) await n.deliver(blockAt(i))
    const cases: Array<[string, RegExp]> = [
      ['types=block,nope', /unknown event type "nope"; the types are block, epoch, committee, evidence/],
      ['types=', /types: an empty type/],
      ['from=3', /unknown query parameter "from"; this endpoint takes types, from_height/],
      ['from_height=0', /from_height must be an integer from 1/],
      ['from_height=x', /from_height must be an integer from 1/],
      ['from_height=7', /from_height 7 is beyond the next block: the last delivered block is at local height 5/],
      ['from_height=2&types=epoch', /from_height replays blocks: add "block" to types/],
      ['from_height=2', /from_height 2 asks for 4 blocks; at most 3 are replayed \(http.ws_max_replay\)/]
    ]
    for (const [query, message] of cases) {
      const res = await wsRefused(`${n.url}?${query}`)
      expect(res, query).toEqual({ status: 400, body: { error: 'ERR_BAD_REQUEST', message: expect.stringMatching(message) } })
    }
    expect(n.hub.stats()).toMatchObject({ clients: 0, subscribed: false })
    // at the bound: accepted
    const c = await connect(`${n.url}?from_height=3`)
    await waitFor(() => c.frames.length === 4, { timeoutMs: 5_000, what: 'three blocks and the end frame' })
    expect(blockHeights(c)).toEqual([3, 4, 5])
    const plain = await n.server.app.inject({ method: 'GET', url: `${WS_BLOCKS_PATH}?types=nope` })
    expect(plain.statusCode).toBe(426)
    expect(plain.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: `GET ${WS_BLOCKS_PATH} is a WebSocket endpoint: connect with "Upgrade: websocket"` })
  })

  it('a replay over the bound once the socket is open is closed with 1008 and the reason; a replay that cannot read its store with 1011', async () => {
    // more blocks delivered between the check and the replay than the bound allows
    const heights = [5, 9]
    const n = await node({ maxReplay: 5 }, (store) => ({ get lastHeight () { return heights.length > 1 ? heights.shift() as number : heights[0] as number }, atHeight: async (h) => await store.atHeight(h) }))
    const over = await connect(`${n.url}?from_height=1`)
    expect(await over.closed).toEqual({ code: WS_CLOSE_POLICY, reason: 'replay of 9 blocks is over http.ws_max_replay (5)' })
    expect(over.frames).toEqual([])
    const broken = await node({}, (store) => ({ get lastHeight () { return 2 }, atHeight: async () => { await store.atHeight(1); throw new Error('disk on fire') } }))
    const failed = await connect(`${broken.url}?from_height=1`)
    expect(await failed.closed).toEqual({ code: WS_CLOSE_SERVER_ERROR, reason: 'replay failed: disk on fire' })
    expect(broken.hub.stats()).toMatchObject({ clients: 0, subscribed: false })
  })
})
