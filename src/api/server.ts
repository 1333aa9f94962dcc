import Fastify, { type FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { installErrorHandling } from './errors.js'
import { DESCRIBE_ONLY_COMPILERS, registerOpenApi, type ApiDescription } from './openapi.js'

export interface HttpServerOptions {
  host: string
  port: number
  /** Largest request body accepted (default 1 MiB). */
  bodyLimit?: number
  /** What `/openapi.json` and `/docs` say about this API (title, description, tags). */
  api?: ApiDescription
}

/**
 * A fastify server with the project's error handling, request logging at debug and its OpenAPI
 * description (`/openapi.json`, `/docs`). Routes are registered by the caller through `app` before
 * `start()`, each inside a plugin (`app.register`) so that the OpenAPI collector, registered here
 * first, sees them; tests may call `app.inject()` without listening.
 */
export class HttpServer {
  readonly app: FastifyInstance
  readonly #opts: HttpServerOptions
  readonly #logger: Logger
  #url: string | undefined

  constructor (opts: HttpServerOptions, logger: Logger) {
    this.#opts = opts
    this.#logger = logger
    // every route's schema only describes (describeOnly): no JSON-schema compiler is loaded
    this.app = Fastify({ logger: false, bodyLimit: opts.bodyLimit ?? 1024 * 1024, forceCloseConnections: true, schemaController: { compilersFactory: DESCRIBE_ONLY_COMPILERS } })
    installErrorHandling(this.app, logger)
    void this.app.register(websocket, { options: { maxPayload: 64 * 1024 } })
    registerOpenApi(this.app, opts.api)
    this.app.addHook('onResponse', async (request, reply) => {
      logger.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request')
    })
  }

  /** Base URL once listening, e.g. http://127.0.0.1:8001 */
  get url (): string {
    if (this.#url == null) throw new Error('HTTP server is not listening')
    return this.#url
  }

  async start (): Promise<void> {
    if (this.#url != null) return
    try {
      await this.app.listen({ host: this.#opts.host, port: this.#opts.port })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new EphemeraError(ErrorCode.ADDRESS_IN_USE, `HTTP address ${this.#opts.host}:${this.#opts.port} is already in use`)
      }
      throw err
    }
    const address = this.app.server.address()
    const port = typeof address === 'object' && address != null ? address.port : this.#opts.port
    const host = this.#opts.host.includes(':') ? `[${this.#opts.host}]` : this.#opts.host
    this.#url = `http://${host}:${port}`
    if (!['127.0.0.1', 'localhost', '::1'].includes(this.#opts.host)) {
      this.#logger.warn({ host: this.#opts.host }, 'HTTP API is bound to a non-loopback address; it has no authentication')
    }
    this.#logger.info({ url: this.#url }, 'HTTP API listening')
  }

  async stop (): Promise<void> {
    if (this.#url == null) return
    this.#url = undefined
    await this.app.close()
  }
}
