import { pino } from 'pino'
import { afterEach, describe, it, expect } from 'vitest'
import { HttpServer, registerNodeRoutes, type NodeApiSource, type NodeHealth } from '../../../src/api/index.js'
import type { ConnectionInfo, GroupInfo } from '../../../src/network/index.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'

const health: NodeHealth = {
  status: 'ok',
  name: 'node1',
  peerId: '12D3KooWexample',
  pid: 4242,
  uptimeSeconds: 12,
  startedAt: '2024-01-01T00:00:00.000Z',
  connectedMembers: 2,
  members: 3,
  startupMs: { database: 5, network: 20, broadcast: 3, http: 4, process: 900 },
  build: { version: '0.1.0', node: 'v20.19.0', platform: 'linux-x64' },
  dashboard: 'http://127.0.0.1:8000/dashboard'
}
const publicConfig = { name: 'node1', http: { host: '127.0.0.1', port: 8001 }, p2p: { listen: '/ip4/127.0.0.1/tcp/4001' } }
const groupInfo: GroupInfo = {
  localPeerId: '12D3KooWexample',
  size: 3,
  quorum: 3,
  maxFaulty: 0,
  connected: 2,
  members: [
    { name: 'node1', peerId: '12D3KooWexample', address: '/ip4/127.0.0.1/tcp/4001', self: true, connected: true },
    { name: 'node2', peerId: '12D3KooWother', address: '/ip4/127.0.0.1/tcp/4002', self: false, connected: false }
  ],
  refusedNonMembers: { refused: 1, lastPeerId: '12D3KooWstranger', lastAt: '2024-01-01T00:00:01.000Z' }
}
const connections: ConnectionInfo[] = [
  { peerId: '12D3KooWother', member: 'node2', direction: 'outbound', remoteAddr: '/ip4/127.0.0.1/tcp/4002', openedAt: '2024-01-01T00:00:02.000Z' }
]

let readiness = { ready: true, reasons: [] as string[] }
const source: NodeApiSource = {
  health: () => health,
  readiness: () => readiness,
  publicConfig: () => publicConfig,
  groupInfo: () => groupInfo,
  connections: () => connections
}

const servers: HttpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.app.close() }))
})

function makeServer (): { server: HttpServer, logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write (line: string) { logs.push(JSON.parse(line) as Record<string, unknown>) } })
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, logger)
  servers.push(server)
  registerNodeRoutes(server.app, source)
  server.app.get('/test/not-found', async () => { throw new EphemeraError(ErrorCode.NOT_FOUND, 'no such epoch 9') })
  server.app.get('/test/bad-request', async () => { throw new EphemeraError(ErrorCode.BAD_REQUEST, 'epoch must be a number') })
  server.app.get('/test/crash', async () => { throw new Error('secret internal detail') })
  server.app.post('/test/echo', async (request) => ({ got: request.body }))
  return { server, logs }
}

describe('probes', () => {
  it('/livez answers 200 while serving; /readyz 200 when ready, 503 with every reason otherwise', async () => {
    const { server } = makeServer()
    expect((await server.app.inject({ url: '/livez' })).statusCode).toBe(200)
    readiness = { ready: true, reasons: [] }
    const ready = await server.app.inject({ url: '/readyz' })
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ready' }])
    readiness = { ready: false, reasons: ['not connected to the coordinator at http://127.0.0.1:7000', '1 of the committee\'s 4 members reachable (this node included), a quorum is 3'] }
    const not = await server.app.inject({ url: '/readyz' })
    expect([not.statusCode, not.json()]).toEqual([503, { status: 'not ready', reasons: readiness.reasons }])
    expect((await server.app.inject({ url: '/livez' })).statusCode).toBe(200)
  })
})

describe('HttpServer with the node routes', () => {
  it.each([
    ['/ephemera/node/health', health],
    ['/ephemera/node/config', publicConfig],
    ['/ephemera/broadcast/group/info', groupInfo],
    ['/ephemera/node/connections', { connections }]
  ])('GET %s returns the source data as JSON', async (url, expected) => {
    const { server } = makeServer()
    const res = await server.app.inject({ method: 'GET', url })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.json()).toEqual(expected)
  })

  it('reads the source on every request', async () => {
    let uptime = 1
    const server = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
    servers.push(server)
    registerNodeRoutes(server.app, { ...source, health: () => ({ ...health, uptimeSeconds: uptime++ }) })
    expect((await server.app.inject({ url: '/ephemera/node/health' })).json().uptimeSeconds).toBe(1)
    expect((await server.app.inject({ url: '/ephemera/node/health' })).json().uptimeSeconds).toBe(2)
  })

  it('answers an unknown route with a JSON 404', async () => {
    const { server } = makeServer()
    const res = await server.app.inject({ method: 'GET', url: '/nope?x=1' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: 'ERR_NOT_FOUND', message: 'no route GET /nope?x=1' })
  })

  it('maps EphemeraError codes to 404 and 400 with code and message', async () => {
    const { server } = makeServer()
    const notFound = await server.app.inject({ url: '/test/not-found' })
    expect(notFound.statusCode).toBe(404)
    expect(notFound.json()).toEqual({ error: 'ERR_NOT_FOUND', message: 'no such epoch 9' })
    const bad = await server.app.inject({ url: '/test/bad-request' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: 'epoch must be a number' })
  })

  it('hides unexpected errors behind a generic 500 and logs them', async () => {
    const { server, logs } = makeServer()
    const res = await server.app.inject({ url: '/test/crash' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: 'ERR_INTERNAL', message: 'internal error' })
    expect(res.body).not.toContain('secret internal detail')
    expect(res.body).not.toContain('stack')
    expect(res.body).not.toContain('.ts:')
    const logged = logs.find((l) => l.msg === 'unexpected error in HTTP handler')
    expect(logged).toBeDefined()
    expect(JSON.stringify(logged)).toContain('secret internal detail')
  })

  it('rejects a malformed JSON body with 400', async () => {
    const { server } = makeServer()
    const ok = await server.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toEqual({ got: { a: 1 } })
    const res = await server.app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' })
    expect(res.statusCode).toBe(400)
    const body = res.json()
    expect(body.error).toBe('ERR_BAD_REQUEST')
    expect(typeof body.message).toBe('string')
  })

  it('rejects a wrong method on a known path with a 4xx JSON body', async () => {
    const { server } = makeServer()
    const res = await server.app.inject({ method: 'DELETE', url: '/ephemera/node/health' })
    expect(res.statusCode).toBe(404)
    expect(res.json().error).toBe('ERR_NOT_FOUND')
  })

  it('url throws until the server listens', () => {
    const { server } = makeServer()
    expect(() => server.url).toThrow('not listening')
  })
})
