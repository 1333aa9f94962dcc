import { readFile } from 'node:fs/promises'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpServer, registerBroadcastRoutes, registerNodeRoutes, registerRewardsRoutes, registerWsRoutes, type NodeApiSource } from '../../../src/api/index.js'
import { registerHealthRoutes } from '../../../src/api/health.js'
import { registerMetricsRoute } from '../../../src/api/metrics-route.js'
import { answer, describeOnly, DOCS_PATH, NODE_API, OPENAPI_PATH, type ApiDescription } from '../../../src/api/openapi.js'
import type { BroadcastEngine } from '../../../src/broadcast/index.js'
import { registerContractRoutes } from '../../../src/contract/api.js'
import { COORDINATOR_API } from '../../../src/contract/api-docs.js'
import { Coordinator } from '../../../src/contract/coordinator.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { ENVIRONMENTS } from '../../../src/epochs/environment.js'
import type { RewardsService } from '../../../src/rewards/service.js'
import type { EventSource } from '../../../src/api/ws-hub.js'
import { registerContractWsRoute } from '../../../src/contract/ws-api.js'
import { registerDashboardRoutes, registerNodeHome } from '../../../src/dashboard/index.js'
import { silentLogger } from '../../../src/util/logger.js'
import { VERSION } from '../../../src/util/version.js'
import { COMMITTEE, MemoryStore, PARAMETERS } from '../contract/fixtures.js'

/**
 * Keeps /openapi.json and the routes in step, on both HTTP APIs composed as their processes
 * compose them (src/node/node.ts, src/contract/service.ts): every route registered has a summary
 * and tags and is in the description with its method, and everything described is a route.
 * The composition here is checked against those two files, so a route registered there and not
 * here fails too.
 */

interface Route { method: string, url: string, schema: RouteOptions['schema'] }

const servers: HttpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.app.close() }))
})

/** An HttpServer whose every registered route is recorded (HEAD routes fastify adds for GETs left out). */
function server (api: ApiDescription): { http: HttpServer, routes: Route[] } {
  const http = new HttpServer({ host: '127.0.0.1', port: 0, api }, silentLogger())
  servers.push(http)
  const routes: Route[] = []
  http.app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: r.url, schema: r.schema })
    }
  })
  return { http, routes }
}

/** The node's API as src/node/node.ts composes it (rewards app); the parts are never called. */
const NODE_REGISTRATIONS = ['registerNodeRoutes', 'registerBroadcastRoutes', 'registerMetricsRoute', 'registerNodeHome', 'registerWsRoutes', 'registerRewardsRoutes']
const noEvents: EventSource = { subscribe: () => () => {} }
async function nodeApp (): Promise<{ http: HttpServer, routes: Route[] }> {
  const s = server(NODE_API)
  const unused = (): never => { throw new Error('not called by this test') }
  const source: NodeApiSource = { health: unused, readiness: unused, publicConfig: unused, groupInfo: unused, connections: unused }
  registerNodeRoutes(s.http.app, source)
  registerBroadcastRoutes(s.http.app, { store: {} } as unknown as BroadcastEngine)
  registerMetricsRoute(s.http.app, async () => '')
  registerNodeHome(s.http.app, { name: 'node1', dashboard: null })
  registerWsRoutes(s.http.app, { delivered: { onDelivered: () => () => {} }, blocks: { lastHeight: 0, atHeight: unused }, events: noEvents }, { maxClients: 1, maxBufferedBytes: 1024 })
  registerRewardsRoutes(s.http.app, {} as unknown as RewardsService)
  return s
}

/** The coordinator's API as src/contract/service.ts composes it. */
const COORDINATOR_REGISTRATIONS = ['registerContractRoutes', 'registerMetricsRoute', 'registerContractWsRoute', 'registerDashboardRoutes', 'registerHealthRoutes']
async function coordinatorApp (): Promise<{ http: HttpServer, routes: Route[] }> {
  const s = server(COORDINATOR_API)
  const coordinator = new Coordinator(ENVIRONMENTS.testing, { store: new MemoryStore(), clock: Date.now, committee: COMMITTEE, parameters: PARAMETERS, verify: verifySignature, allowStandalone: false })
  await coordinator.initialize()
  registerContractRoutes(s.http.app, coordinator, Date.now, verifySignature)
  registerMetricsRoute(s.http.app, async () => '')
  registerContractWsRoute(s.http.app, coordinator, noEvents, Date.now, { maxClients: 1, maxBufferedBytes: 1024, maxReplay: 1 })
  registerDashboardRoutes(s.http.app)
  registerHealthRoutes(s.http.app, () => ({ ready: true, reasons: [] }))
  return s
}

/** The route registrations a composition root makes on its HTTP server. */
async function registrationsIn (file: string): Promise<string[]> {
  const source = await readFile(new URL(`../../../${file}`, import.meta.url), 'utf8')
  return [...new Set([...source.matchAll(/\b(register\w+)\(\s*http\.app\b/g)].map((m) => m[1] as string))].sort()
}

type Operation = { summary?: string, tags?: string[], responses?: Record<string, unknown>, parameters?: Array<{ in: string, name: string, required?: boolean }> }
type Document = { openapi: string, info: { title: string, version: string }, tags: Array<{ name: string }>, paths: Record<string, Record<string, Operation>> }

/** `/a/:b` → `/a/{b}` */
const openApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}')

/** Every way the description and the routes disagree; empty when they are in step. */
async function problems (app: FastifyInstance, routes: Route[]): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: OPENAPI_PATH })
  if (res.statusCode !== 200) return [`GET ${OPENAPI_PATH} answered ${res.statusCode}`]
  const doc = res.json<Document>()
  const found: string[] = []
  const declaredTags = new Set(doc.tags.map((t) => t.name))
  const documented = routes.filter((r) => r.schema?.hide !== true)
  for (const r of documented) {
    const name = `${r.method} ${r.url}`
    if (typeof r.schema?.summary !== 'string' || r.schema.summary === '') found.push(`${name} has no schema summary`)
    if (r.schema?.tags == null || r.schema.tags.length === 0) found.push(`${name} has no tags`)
    for (const tag of r.schema?.tags ?? []) if (!declaredTags.has(tag)) found.push(`${name}: tag "${tag}" is not declared in the API's tags`)
    const operation = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()]
    if (operation == null) found.push(`${name} is not in ${OPENAPI_PATH}`)
    else if (operation.summary !== r.schema?.summary) found.push(`${name}: described with summary "${operation.summary}"`)
  }
  const routeKeys = new Set(documented.map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`))
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item)) {
      if (!routeKeys.has(`${method} ${path}`)) found.push(`${method.toUpperCase()} ${path} is described but is not a route`)
    }
  }
  return found
}

describe('OpenAPI description', () => {
  it('the compositions here register what the processes register', async () => {
    expect(await registrationsIn('src/node/node.ts')).toEqual([...NODE_REGISTRATIONS].sort())
    expect(await registrationsIn('src/contract/service.ts')).toEqual([...COORDINATOR_REGISTRATIONS].sort())
  })

  for (const [name, build, api] of [['node', nodeApp, NODE_API], ['coordinator', coordinatorApp, COORDINATOR_API]] as const) {
    describe(`the ${name} API`, () => {
      it('describes every route, and only routes, with a summary and tags', async () => {
        const { http, routes } = await build()
        await http.app.ready()
        const documented = routes.filter((r) => r.schema?.hide !== true)
        // every route of today at least (guards against collecting nothing)
        expect(documented.length).toBeGreaterThanOrEqual(name === 'node' ? 25 : 31)
        expect(await problems(http.app, routes)).toEqual([])
      })

      it(`serves valid OpenAPI 3 at ${OPENAPI_PATH}`, async () => {
        const { http } = await build()
        const res = await http.app.inject({ method: 'GET', url: OPENAPI_PATH })
        expect(res.statusCode).toBe(200)
        expect(res.headers['content-type']).toMatch(/^application\/json/)
        const doc = res.json<Document>()
        expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/)
        expect(doc.info).toMatchObject({ title: api.title, version: VERSION })
        expect(doc.tags.map((t) => t.name)).toEqual(api.tags.map((t) => t.name))
        expect(Object.keys(doc.paths).length).toBeGreaterThan(10)
        // OpenAPI's rules for operations: each has responses, and each {param} of its path is a
        // required path parameter
        for (const [path, item] of Object.entries(doc.paths)) {
          const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
          for (const [method, operation] of Object.entries(item)) {
            expect(Object.keys(operation.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0)
            const declared = (operation.parameters ?? []).filter((p) => p.in === 'path' && p.required === true).map((p) => p.name)
            expect(declared.sort(), `${method} ${path}`).toEqual(names.sort())
          }
        }
        // shared error bodies resolve
        const text = res.body
        for (const ref of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
          expect(Object.keys((doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas)).toContain(ref[1])
        }
      })

      it(`serves the docs page at ${DOCS_PATH} with its assets, offline`, async () => {
        const { http } = await build()
        const page = await http.app.inject({ method: 'GET', url: DOCS_PATH })
        expect(page.statusCode).toBe(200)
        expect(page.headers['content-type']).toMatch(/^text\/html/)
        expect(page.body).toContain('swagger-ui')
        // no CDN: every script and stylesheet comes from this server
        const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string)
        expect(assets.length).toBeGreaterThan(2)
        for (const asset of assets) {
          expect(asset).not.toMatch(/^(https?:)?\/\//)
          const res = await http.app.inject({ method: 'GET', url: asset })
          expect(res.statusCode, asset).toBe(200)
        }
        const spec = await http.app.inject({ method: 'GET', url: `${DOCS_PATH}/json` })
        expect(spec.json<Document>().info.title).toBe(api.title)
      })
    })
  }

  it('finds a route without a summary, one left out of the description and a described route that is not one', async () => {
    const { http, routes } = server(NODE_API)
    registerMetricsRoute(http.app, async () => '')
    void http.app.register(async (app) => {
      app.get('/undocumented', async () => ({}))
      app.get('/untagged/:id', { schema: { summary: 'no tags' } }, async () => ({}))
    })
    // registered on the root before the OpenAPI collector has loaded: a route it never sees
    http.app.get('/unseen', { schema: { summary: 'unseen', tags: ['node'] } }, async () => ({}))
    await http.app.ready()
    expect(await problems(http.app, routes)).toEqual([
      'GET /unseen is not in /openapi.json',
      'GET /undocumented has no schema summary',
      'GET /undocumented has no tags',
      'GET /untagged/:id has no tags'
    ])
    expect(await problems(http.app, routes.filter((r) => r.url !== '/metrics'))).toContain('GET /metrics is described but is not a route')
  })

  it('serialises answers as without schemas: nothing dropped or coerced, /metrics as text', async () => {
    const { http } = server(NODE_API)
    const text = '# HELP up 1 while serving\n# TYPE up gauge\nup 1\n'
    registerMetricsRoute(http.app, async () => text)
    const body = { a: '1', b: [1, { c: null }], d: undefined }
    void http.app.register(async (app) => {
      describeOnly(app)
      // fast-json-stringify would answer {"a":1} for this schema
      app.get('/shape', { schema: { summary: 'a shape', tags: ['node'], response: { 200: answer('a', { a: { type: 'integer' } }) } } }, async () => body)
    })
    const metrics = await http.app.inject({ method: 'GET', url: '/metrics' })
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(metrics.body).toBe(text)
    expect((await http.app.inject({ method: 'GET', url: '/shape' })).body).toBe(JSON.stringify(body))
  })

  it('leaves route input to the handlers: the same 400 messages as without schemas', async () => {
    const { http } = await coordinatorApp()
    const epoch = await http.app.inject({ method: 'GET', url: '/contract/epochs/abc' })
    expect(epoch.statusCode).toBe(400)
    expect(epoch.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: 'epoch must be a positive integer, got "abc"' })
    const limit = await http.app.inject({ method: 'GET', url: '/contract/epochs?limit=0' })
    expect(limit.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: 'limit must be an integer from 1 to 1000, got "0"' })
    const evidence = await http.app.inject({ method: 'GET', url: '/contract/evidence/xyz' })
    expect(evidence.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: 'the evidence hash must be 64 hex digits' })
  })
})
