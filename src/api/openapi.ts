import type { FastifyInstance, FastifySchema } from 'fastify'
import * as z from 'zod'
import { VERSION } from '../util/version.js'
import { registerLazyDocs } from './openapi-docs.js'

export { DESCRIBE_ONLY_COMPILERS } from './openapi-docs.js'

/**
 * The OpenAPI description of an HTTP API, built by @fastify/swagger from the routes' own schemas
 * (summary, description, tags, params, querystring, body, responses) and served at
 * `GET /openapi.json`, with Swagger UI at `/docs` (its assets come from the package: no CDN).
 * Both are loaded on first use (src/api/openapi-docs.ts): a process that is never asked for its
 * description does not load them. test/unit/api/openapi.test.ts keeps the description and the
 * registered routes in step.
 */

export interface ApiDescription {
  title: string
  description: string
  tags: Array<{ name: string, description: string }>
}

export const OPENAPI_PATH = '/openapi.json'
export const DOCS_PATH = '/docs'

/** The shared error body's schema id: `{error, message}` (src/api/errors.ts). */
const API_ERROR_ID = 'ApiError'

const COMMON = 'Every answer is JSON (except `/metrics`, Prometheus text). Bad input gets a 4xx and faults on the server a 5xx, both with the body `{error, message}` (`error` is a code listed in docs/ERRORS.md); while storage has failed every route answers 503 `ERR_STORAGE_FAILED`. Hashes, keys and signatures are lower-case hex.'

/** Tags both processes use. */
export const HEALTH_TAG = { name: 'health', description: 'Liveness, readiness and process health, for probes and supervisors.' }
export const METRICS_TAG = { name: 'metrics', description: 'Prometheus metrics (README "Metrics").' }
export const DOCS_TAG = { name: 'docs', description: 'This description of the API.' }

/** The node's API (README "HTTP API"). */
export const NODE_API: ApiDescription = {
  title: 'ephemera node API',
  description: `The HTTP API of an ephemera node: reliable broadcast of client messages into certified blocks, the delivered blocks and their proofs, the rewards pipeline, and the node's health. ${COMMON}`,
  tags: [
    HEALTH_TAG,
    { name: 'node', description: "The node's configuration, membership and connections." },
    { name: 'broadcast', description: 'Delivered blocks, their certificates and the reliable-broadcast state.' },
    { name: 'messages', description: 'Client messages: submission, status and inclusion proofs.' },
    { name: 'rewards', description: "The rewards pipeline: this node's epochs, reports and evidence." },
    METRICS_TAG,
    DOCS_TAG
  ]
}

const GENERIC_API: ApiDescription = { title: 'ephemera HTTP API', description: COMMON, tags: [HEALTH_TAG, METRICS_TAG, DOCS_TAG] }

/**
 * Registers the OpenAPI description (`GET /openapi.json`) and Swagger UI at `/docs`, both built by
 * @fastify/swagger and @fastify/swagger-ui on first use. It must come before any route: the
 * description has the routes registered after it (routes are registered inside plugins, which load
 * in order).
 */
export function registerOpenApi (app: FastifyInstance, api: ApiDescription = GENERIC_API): void {
  app.addSchema({
    $id: API_ERROR_ID,
    type: 'object',
    description: 'An error answer.',
    properties: {
      error: { type: 'string', description: 'The error code, e.g. ERR_BAD_REQUEST (docs/ERRORS.md).' },
      message: { type: 'string', description: 'One line saying what was wrong.' }
    },
    required: ['error', 'message']
  })
  const describe = registerLazyDocs(app, {
    swagger: {
      openapi: {
        openapi: '3.1.0',
        info: { title: api.title, description: api.description, version: VERSION },
        tags: api.tags
      },
      // shared schemas keep their id as their name under components.schemas
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}` }
    },
    ui: { routePrefix: DOCS_PATH, uiConfig: { deepLinking: true } }
  })
  void app.register(async (scope) => {
    scope.get(OPENAPI_PATH, {
      schema: { summary: 'This OpenAPI description', description: 'The OpenAPI 3.1 description of this API, built from the routes\' schemas. Swagger UI shows it at `/docs`.', tags: [DOCS_TAG.name] }
    }, describe)
  })
}

/**
 * Makes the route schemas of `app`'s routes descriptions only: the handlers parse and check their
 * own input (src/api/params.ts, the zod schemas of the request bodies) with the error messages the
 * API promises, and answers are serialised with JSON.stringify as they are without a schema (no
 * field is dropped). Call it first in a plugin, before its routes.
 */
export function describeOnly (app: FastifyInstance): void {
  app.setValidatorCompiler(() => () => true)
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
}

type JsonSchema = Record<string, unknown>

/** A JSON answer: its description, and its properties where they are listed. */
export function answer (description: string, properties?: Record<string, JsonSchema>): JsonSchema {
  return properties == null ? { description, type: 'object' } : { description, type: 'object', properties }
}

/** Error answers by status, each with the `{error, message}` body and when it is given. */
export function errors (when: Record<number, string>): Record<number, JsonSchema> {
  return Object.fromEntries(Object.entries(when).map(([status, description]) => [status, { description, $ref: `${API_ERROR_ID}#` }]))
}

/** Path or query parameters: `required` lists those that must be given (all path parameters). */
export function parameters (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties)): JsonSchema {
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}) }
}

/** A 32-byte hash (or key) in hex. */
export function hex32 (description: string): JsonSchema {
  return { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description }
}

/** A positive integer given as text (a path or query parameter). */
export function positiveInt (description: string, maximum?: number): JsonSchema {
  return { type: 'integer', minimum: 1, ...(maximum != null ? { maximum } : {}), description }
}

/** A request body's schema from the zod schema that checks it, so the two cannot drift. */
export function bodyOf (schema: z.ZodType, description: string): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  return { ...json, description }
}

/** A route's schema; at least a summary and its tags (the test refuses a route without them). */
export function route (schema: FastifySchema & { summary: string, tags: readonly string[] }): FastifySchema {
  return schema
}
