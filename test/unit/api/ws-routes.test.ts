import { pino } from 'pino'
import { afterEach, describe, it, expect, vi } from 'vitest'
import WebSocket from 'ws'
import { HttpServer, registerWsRoutes, WS_BLOCKS_PATH, WS_CLOSE_TOO_SLOW, WS_CLOSE_TRY_AGAIN, type BlockReader, type WsEventHub, type WsRoutesOptions } from '../../../src/api/index.js'
import { blockToJson } from '../../../src/block/json.js'
import type { DeliveredBlock } from '../../../src/broadcast/index.js'
import { certifiedBlock, key, members, signedMessage } from '../block/fixtures.js'
import { waitFor } from '../../helpers/env.js'
import { pauseReading as pause, resumeReading as resume, wsConnect, type WsTestClient } from '../../helpers/ws-client.js'

/**
 * WS /ephemera/broadcast/ws against a real fastify server on port 0 with real `ws` clients: each
 * block is serialised once, a client that stops reading is closed once its send buffer is over
 * the bound (and cut off if it never finishes the close), clients over the cap are refused, and
 * closing every client leaves no subscription behind.
 */

const keys = members(4)
const client = key(0x0c)
const small = certifiedBlock({ members: keys, creator: 1, round: 1, messages: [signedMessage(client, { label: 'small', data: 'hello' })] })
// one message of 96 KiB: each frame is about 130 kB of JSON
const large = certifiedBlock({ members: keys, creator: 2, round: 2, messages: [signedMessage(client, { label: 'large', data: new Uint8Array(96 * 1024).fill(7) })] })
const delivered = (c: typeof small, localHeight: number): DeliveredBlock => ({ hash: c.hash, block: c.block, certificate: c.certificate, localHeight })
const frameOf = (c: typeof small, localHeight: number): Buffer => Buffer.from(JSON.stringify({ type: 'block', block: { ...blockToJson(c.block, c.hash), localHeight } }))
const LARGE_FRAME_BYTES = frameOf(large, 1_000_000).length

class FakeFeed {
  readonly listeners = new Set<(d: DeliveredBlock) => void>()
  onDelivered (listener: (d: DeliveredBlock) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  emit (d: DeliveredBlock): void {
    for (const listener of [...this.listeners]) listener(d)
  }
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

/** No stored blocks: these tests are about the live push (ws-resume.test.ts replays a real store). */
const noBlocks: BlockReader = { lastHeight: 0, atHeight: async () => undefined }

async function start (opts: Partial<WsRoutesOptions> = {}): Promise<{ server: HttpServer, hub: WsEventHub, feed: FakeFeed, url: string }> {
  const feed = new FakeFeed()
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
  cleanups.push(async () => { await server.stop(); await server.app.close() })
  const hub = registerWsRoutes(server.app, { delivered: feed, blocks: noBlocks }, { maxClients: 8, maxBufferedBytes: 512 * 1024, ...opts })
  await server.start()
  return { server, hub, feed, url: `${server.url.replace('http', 'ws')}${WS_BLOCKS_PATH}` }
}

const connect = async (url: string, opts: { keepFrames?: boolean } = {}): Promise<WsTestClient> => await wsConnect(url, (fn) => { cleanups.push(fn) }, { parse: opts.keepFrames === true })

/** The local heights of the block frames received (near the end of each frame: avoids parsing 130 kB per frame). */
function heights (c: WsTestClient): number[] {
  return c.raw.flatMap((data) => {
    const match = /"localHeight":(\d+)\}\}$/.exec(data.subarray(Math.max(0, data.length - 64)).toString())
    return match == null ? [] : [Number(match[1])]
  })
}

const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }
const serverSockets = (server: HttpServer): WebSocket[] => [...server.app.websocketServer.clients]

describe('WS /ephemera/broadcast/ws', () => {
  it('pushes each delivered block, serialised once for all clients', async () => {
    const { feed, url } = await start()
    const clients = [await connect(url, { keepFrames: true }), await connect(url, { keepFrames: true }), await connect(url, { keepFrames: true })]
    expect(feed.listeners.size).toBe(1)
    const stringify = vi.spyOn(JSON, 'stringify')
    try {
      feed.emit(delivered(small, 2))
      const blockFrames = stringify.mock.calls.filter(([value]) => (value as { type?: string } | null)?.type === 'block')
      expect(blockFrames).toHaveLength(1)
    } finally {
      stringify.mockRestore()
    }
    await waitFor(() => clients.every((c) => c.raw.length === 1), { timeoutMs: 5_000, intervalMs: 5, what: 'every client to get the frame' })
    for (const c of clients) {
      const msg = JSON.parse(String(c.raw[0])) as { type: string, block: unknown }
      expect(msg).toEqual({ type: 'block', block: { ...JSON.parse(JSON.stringify(blockToJson(small.block, small.hash))) as object, localHeight: 2 } })
    }
  })

  it('also works through injectWS (no listening socket)', async () => {
    const feed = new FakeFeed()
    const server = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
    cleanups.push(async () => { await server.app.close() })
    registerWsRoutes(server.app, { delivered: feed, blocks: noBlocks }, { maxClients: 2, maxBufferedBytes: 1024 * 1024 })
    await server.app.ready()
    const ws = await server.app.injectWS(WS_BLOCKS_PATH)
    try {
      const received = new Promise<string>((resolve) => { ws.once('message', (data: Buffer) => { resolve(data.toString()) }) })
      feed.emit(delivered(small, 7))
      const msg = JSON.parse(await received) as { type: string, block: { hash: string, localHeight: number } }
      expect(msg.type).toBe('block')
      expect(msg.block.localHeight).toBe(7)
    } finally {
      ws.terminate()
    }
  })

  it('answers a plain GET with a JSON 4xx', async () => {
    const { server } = await start()
    const res = await server.app.inject({ method: 'GET', url: WS_BLOCKS_PATH })
    expect(res.statusCode).toBe(426)
    expect(res.headers.upgrade).toBe('websocket')
    expect(res.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: expect.stringContaining('WebSocket endpoint') })
  })

  it('closes a client that stops reading once its send buffer is over the bound, and keeps serving a reader', async () => {
    const max = 512 * 1024
    const { server, hub, feed, url } = await start({ maxBufferedBytes: max, closeTimeoutMs: 20_000 })
    const reader = await connect(url)
    const slow = await connect(url)
    pause(slow)
    expect(hub.stats().clients).toBe(2)

    // push large frames until the server gives up on the paused client (kernel buffers fill first)
    let emitted = 0
    let peak = 0
    const deadline = Date.now() + 30_000
    while (hub.stats().tooSlow === 0) {
      if (Date.now() > deadline || emitted > 5_000) throw new Error(`the paused client was not closed after ${emitted} frames`)
      feed.emit(delivered(large, ++emitted))
      for (const socket of serverSockets(server)) peak = Math.max(peak, socket.bufferedAmount)
      await tick()
    }
    expect(peak, 'server-side queue of one client').toBeGreaterThan(0)
    expect(peak, 'server-side queue of one client').toBeLessThanOrEqual(max + LARGE_FRAME_BYTES)
    expect(hub.stats()).toMatchObject({ clients: 1, tooSlow: 1, subscribed: true })
    expect(feed.listeners.size).toBe(1)

    // the dropped client gets nothing more; the reader gets everything
    const queuedAtClose = Math.max(...serverSockets(server).map((s) => s.bufferedAmount))
    for (let i = 0; i < 5; i++) {
      feed.emit(delivered(large, ++emitted))
      for (const socket of serverSockets(server)) expect(socket.bufferedAmount).toBeLessThanOrEqual(Math.max(queuedAtClose, max + LARGE_FRAME_BYTES))
      await tick()
    }
    await waitFor(() => reader.raw.length === emitted, { timeoutMs: 10_000, intervalMs: 5, what: `the reader to get all ${emitted} frames` })
    expect(heights(reader)).toEqual(Array.from({ length: emitted }, (_, i) => i + 1))
    expect(reader.closedWith).toBeUndefined()

    // once it reads again, the slow client sees what was queued, then the close frame with the reason
    resume(slow)
    const closed = await slow.closed
    expect(closed).toEqual({ code: WS_CLOSE_TOO_SLOW, reason: `client too slow: send buffer over ${max} bytes` })
    expect(slow.raw.length).toBeLessThan(emitted)
    expect(heights(slow)).toEqual(Array.from({ length: slow.raw.length }, (_, i) => i + 1))

    reader.ws.close()
    await reader.closed
    await waitFor(() => feed.listeners.size === 0 && serverSockets(server).length === 0, { timeoutMs: 5_000, intervalMs: 5, what: 'every subscription and server socket to go' })
    expect(hub.stats()).toMatchObject({ clients: 0, subscribed: false })
  })

  it('cuts off a client that never finishes the close handshake', async () => {
    const { server, hub, feed, url } = await start({ maxBufferedBytes: 256 * 1024, closeTimeoutMs: 300 })
    const slow = await connect(url)
    pause(slow)
    let emitted = 0
    const deadline = Date.now() + 30_000
    while (hub.stats().tooSlow === 0) {
      if (Date.now() > deadline) throw new Error('the paused client was not closed')
      feed.emit(delivered(large, ++emitted))
      await tick()
    }
    // forgotten at once, and its connection is gone within the close timeout although it never reads
    expect(feed.listeners.size).toBe(0)
    expect(hub.stats()).toMatchObject({ clients: 0, subscribed: false })
    await waitFor(() => serverSockets(server).length === 0, { timeoutMs: 5_000, intervalMs: 10, what: 'the server to terminate the paused client' })
    resume(slow)
    await slow.closed
  })

  it('refuses clients over the cap with 1013, and admits new ones once others leave', async () => {
    const { hub, feed, url } = await start({ maxClients: 2 })
    const a = await connect(url)
    const b = await connect(url)
    const over = await connect(url)
    const refused = await over.closed
    expect(refused.code).toBe(WS_CLOSE_TRY_AGAIN)
    expect(refused.reason).toMatch(/too many clients \(at most 2\)/)
    expect(hub.stats()).toMatchObject({ clients: 2, refused: 1 })
    expect(feed.listeners.size).toBe(1)

    a.ws.close()
    await a.closed
    await waitFor(() => hub.stats().clients === 1, { timeoutMs: 5_000, intervalMs: 5, what: 'the server to forget the closed client' })
    const c = await connect(url)
    expect(hub.stats()).toMatchObject({ clients: 2, refused: 1 })
    feed.emit(delivered(small, 1))
    await waitFor(() => b.raw.length === 1 && c.raw.length === 1, { timeoutMs: 5_000, intervalMs: 5, what: 'both admitted clients to get the frame' })
    expect(over.raw.length).toBe(0)
    expect(c.closedWith).toBeUndefined()

    b.ws.terminate()
    c.ws.close()
    await Promise.all([b.closed, c.closed])
    await waitFor(() => feed.listeners.size === 0, { timeoutMs: 5_000, intervalMs: 5, what: 'the feed subscription to go' })
    expect(hub.stats()).toMatchObject({ clients: 0, subscribed: false })
  })

  it('closes clients when the server stops, even one that does not read', async () => {
    const { server, feed, url } = await start({ closeTimeoutMs: 300 })
    const reader = await connect(url)
    const paused = await connect(url)
    pause(paused)
    const stopped = server.stop()
    const closed = await reader.closed
    expect([1000, 1001, 1005]).toContain(closed.code)
    await Promise.race([stopped, new Promise((_resolve, reject) => { setTimeout(() => { reject(new Error('server.stop() did not finish within 10 s')) }, 10_000).unref() })])
    expect(feed.listeners.size).toBe(0)
    resume(paused)
    await paused.closed
  })
})
