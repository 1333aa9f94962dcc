import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifySchema, type FastifyServerOptions, type RouteOptions } from 'fastify'
import type { SwaggerOptions } from '@fastify/swagger'
import type { FastifySwaggerUiOptions } from '@fastify/swagger-ui'

/**
 * The OpenAPI description and Swagger UI, loaded on first use: @fastify/swagger, Swagger UI and
 * what they pull in (yaml, @fastify/static, send, mime, a JSON-schema resolver: ~130 modules) are
 * imported only when `/openapi.json` or `/docs` is first asked for, not by every process at start.
 *
 * While the routes are registered, a collector does what @fastify/swagger's own does (it is
 * registered at the same place and sees the same routes: those of plugins registered after it;
 * HEAD routes fastify adds are left out) and keeps the shared schemas. On first use, a separate
 * fastify instance that never listens gets @fastify/swagger and Swagger UI and the collected routes
 * (method, url, schema, config: what the description is built from) and builds the description;
 * `/docs/*` requests are passed to it.
 */

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>

/**
 * Schema checks and serialisation as without schemas (what describeOnly in src/api/openapi.ts sets
 * per plugin), for a whole server: fastify then never loads its JSON-schema compilers (ajv,
 * fast-json-stringify).
 */
export const DESCRIBE_ONLY_COMPILERS: CompilersFactory = {
  buildValidator: (() => () => () => true) as unknown as CompilersFactory['buildValidator'],
  buildSerializer: () => () => (data) => JSON.stringify(data)
}

export interface DocsOptions {
  swagger: SwaggerOptions
  ui: FastifySwaggerUiOptions & { routePrefix: string }
}

interface Collected {
  routes: RouteOptions[]
  schemas: Map<string, unknown>
}

/** Collects routes and shared schemas as @fastify/swagger would (src/api/openapi.ts registers it where swagger was). */
function collector (collected: Collected, forwardUrls: ReadonlySet<string>): FastifyPluginAsync {
  const plugin: FastifyPluginAsync = async (app) => {
    const instances: FastifyInstance[] = []
    app.addHook('onRoute', (route) => {
      // the routes that pass requests to the docs instance are not given to it
      if (route.method === 'HEAD' || forwardUrls.has(route.url)) return
      collected.routes.push(route)
    })
    app.addHook('onRegister', (instance) => { instances.push(instance) })
    app.addHook('onReady', async () => {
      for (const instance of [...instances, app]) {
        for (const [id, schema] of Object.entries(instance.getSchemas())) collected.schemas.set(id, schema)
      }
      instances.length = 0
    })
  }
  // like fastify-plugin: its hooks apply to the instance it is registered on, not a child context
  Object.assign(plugin, { [Symbol.for('skip-override')]: true })
  return plugin
}

async function buildDocs (collected: Collected, opts: DocsOptions): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')])
  const docs = Fastify({ logger: false, schemaController: { compilersFactory: DESCRIBE_ONLY_COMPILERS } })
  for (const schema of collected.schemas.values()) docs.addSchema(schema)
  await docs.register(swagger, opts.swagger)
  await docs.register(swaggerUi, opts.ui)
  const noHandler = async (): Promise<never> => { throw new Error('the docs instance only describes this route') }
  for (const route of collected.routes) {
    docs.route({ method: route.method, url: route.url, schema: route.schema as FastifySchema, config: route.config, handler: noHandler })
  }
  await docs.ready()
  return docs
}

/** Response headers the outer server sets itself. */
const HOP_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date'])

/**
 * Registers the collector (call it where @fastify/swagger would be registered: before the routes'
 * plugins) and the routes that load the docs instance on first use. Returns the description,
 * built then.
 */
export function registerLazyDocs (app: FastifyInstance, opts: DocsOptions): () => Promise<unknown> {
  const collected: Collected = { routes: [], schemas: new Map() }
  let docs: Promise<FastifyInstance> | undefined
  const instance = async (): Promise<FastifyInstance> => {
    docs ??= buildDocs(collected, opts).catch((err: unknown) => {
      docs = undefined
      throw err
    })
    return await docs
  }
  app.addHook('onClose', async () => {
    if (docs != null) await (await docs.catch(() => undefined))?.close()
  })
  const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // always GET: for a HEAD request fastify's own HEAD route (this handler) drops the body
    const res = await (await instance()).inject({ method: 'GET', url: request.url, headers: request.headers })
    // a path Swagger UI does not serve: this server's own 404, as for any unknown route
    if (res.statusCode === 404) return reply.callNotFound()
    for (const [name, value] of Object.entries(res.headers)) {
      if (value != null && !HOP_HEADERS.has(name)) void reply.header(name, value)
    }
    // an empty answer (a redirect) stays without a content type
    return await reply.code(res.statusCode).send(res.rawPayload.length > 0 ? res.rawPayload : undefined)
  }
  const forwardUrls = new Set([opts.ui.routePrefix, `${opts.ui.routePrefix}/*`])
  void app.register(collector(collected, forwardUrls))
  void app.register(async (scope) => {
    for (const url of forwardUrls) scope.get(url, { schema: { hide: true } }, forward)
  })
  return async () => (await instance()).swagger()
}
