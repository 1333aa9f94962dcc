import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ErrorCode } from '../util/errors.js'
import type { ApiErrorBody } from './errors.js'
import { describeOnly, errors, route } from './openapi.js'
import { badRequest } from './params.js'
import type { ClientOptions, WsEventHub } from './ws-hub.js'

export type WsQuery = Record<string, string | undefined>

export interface WsRouteSpec {
  path: string
  summary: string
  description: string
  tags: readonly string[]
  /** The query parameters, for the OpenAPI description (each `{type: 'string', description}`). */
  query: Record<string, { description: string }>
  hub: WsEventHub
  /**
   * Checks an upgrade request's query before the upgrade (a bad one throws a 400 EphemeraError:
   * the socket is not opened) and says what the client gets.
   */
  accept: (query: WsQuery) => ClientOptions | Promise<ClientOptions>
}

/**
 * Registers a WebSocket route of a WsEventHub, as both processes serve them: a plain GET (no
 * upgrade) answers 426 with `{error, message}` whatever its query; an upgrade with a bad query
 * answers 400 with `{error, message}` and is not upgraded; clients are closed when the server
 * closes. Query values repeated (`?types=a&types=b`) are joined with commas.
 */
export function registerWsRoute (root: FastifyInstance, spec: WsRouteSpec): void {
  const accepted = new WeakMap<FastifyRequest, ClientOptions>()
  const known = Object.keys(spec.query)
  // an encapsulated plugin, so that the route is declared after @fastify/websocket has loaded
  void root.register(async (app) => {
    describeOnly(app)
    app.route({
      method: 'GET',
      url: spec.path,
      schema: route({
        summary: spec.summary,
        description: spec.description,
        tags: spec.tags,
        querystring: { type: 'object', properties: Object.fromEntries(Object.entries(spec.query).map(([name, q]) => [name, { type: 'string', description: q.description }])) },
        response: errors({ 400: 'An upgrade with a bad query: the socket is not opened.', 426: 'A plain GET: this is a WebSocket endpoint (connect with `Upgrade: websocket`).' })
      }),
      preValidation: async (request) => {
        if (!request.ws) return
        const query = wsQuery(request.query, known)
        accepted.set(request, await spec.accept(query))
      },
      handler: async (request, reply) => {
        const body: ApiErrorBody = { error: ErrorCode.BAD_REQUEST, message: `${request.method} ${spec.path} is a WebSocket endpoint: connect with "Upgrade: websocket"` }
        return await reply.code(426).header('upgrade', 'websocket').send(body)
      },
      wsHandler: (socket, request) => {
        const options = accepted.get(request)
        if (options == null) {
          socket.close(1011, 'the request was not checked')
          return
        }
        spec.hub.add(socket, options)
      }
    })
    app.addHook('preClose', async () => { await spec.hub.closeAll() })
  })
}

/** The query as single strings; an unknown parameter is a 400 naming the known ones. */
function wsQuery (raw: unknown, known: readonly string[]): WsQuery {
  const out: WsQuery = {}
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!known.includes(name)) throw badRequest(`unknown query parameter "${name.slice(0, 40)}"; this endpoint takes ${known.join(', ')}`)
    out[name] = Array.isArray(value) ? value.map(String).join(',') : String(value)
  }
  return out
}

/**
 * `types`: a comma-separated list of event types, each one of `all`; absent means `fallback`. An
 * empty or unknown type is a 400 naming the valid ones.
 */
export function parseTypes (value: string | undefined, all: readonly string[], fallback: readonly string[]): Set<string> {
  if (value == null) return new Set(fallback)
  const types = value.split(',').map((t) => t.trim())
  for (const t of types) {
    if (!all.includes(t)) throw badRequest(`types: ${t === '' ? 'an empty type' : `unknown event type "${t.slice(0, 40)}"`}; the types are ${all.join(', ')}`)
  }
  return new Set(types)
}
