import type { FastifyInstance } from 'fastify'
import type { WebSocket } from '@fastify/websocket'
import { blockToJson } from '../block/json.js'
import type { DeliveredBlock } from '../broadcast/index.js'
import { ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { ApiErrorBody } from './errors.js'

/** The WebSocket push of delivered blocks (README "HTTP API", `WS /ephemera/broadcast/ws`). */
export const WS_BLOCKS_PATH = '/ephemera/broadcast/ws'

/** Close code for a client that does not read fast enough (policy violation). */
export const WS_CLOSE_TOO_SLOW = 1008
/** Close code for a client over `http.ws_max_clients` (try again later). */
export const WS_CLOSE_TRY_AGAIN = 1013
/** Close code when the server shuts down. */
export const WS_CLOSE_GOING_AWAY = 1001

/** All the WebSocket route needs from the broadcast engine. */
export interface DeliveredFeed {
  /** Calls `listener` for each delivered block; the returned function unsubscribes. */
  onDelivered: (listener: (delivered: DeliveredBlock) => void) => () => void
}

export interface WsRoutesOptions {
  /** Most clients at once (`http.ws_max_clients`); a client over it is closed with 1013. */
  maxClients: number
  /** Most bytes queued for one client (`http.ws_max_buffered_bytes`); a client over it is closed with 1008. */
  maxBufferedBytes: number
  /** A client that has not finished the close handshake this long after we closed it is cut off (default 2 s). */
  closeTimeoutMs?: number
  logger?: Logger
}

export interface WsHubStats {
  /** Clients currently receiving blocks. */
  clients: number
  /** Whether the hub holds a subscription to the feed (only while it has clients). */
  subscribed: boolean
  /** Clients closed because they were over the cap, since start. */
  refused: number
  /** Clients closed because their send buffer was over the bound, since start. */
  tooSlow: number
}

const DEFAULT_CLOSE_TIMEOUT_MS = 2_000

/**
 * Fans delivered blocks out to WebSocket clients. It holds one subscription to the feed while it
 * has clients and serialises each block once for all of them. Every client is bounded: at most
 * `maxClients` of them, and at most about `maxBufferedBytes` queued for each (a client with nothing
 * queued still gets a block larger than that). A client that would exceed the bound is closed and
 * forgotten at once, and cut off if it does not finish the close handshake within `closeTimeoutMs`.
 */
export class WsBlockHub {
  readonly #feed: DeliveredFeed
  readonly #maxClients: number
  readonly #maxBufferedBytes: number
  readonly #closeTimeoutMs: number
  readonly #logger: Logger | undefined
  readonly #clients = new Set<WebSocket>()
  #unsubscribe: (() => void) | undefined
  #shuttingDown = false
  #refused = 0
  #tooSlow = 0

  constructor (feed: DeliveredFeed, opts: WsRoutesOptions) {
    if (!Number.isInteger(opts.maxClients) || opts.maxClients < 1) throw new RangeError('maxClients must be a positive integer')
    if (!Number.isInteger(opts.maxBufferedBytes) || opts.maxBufferedBytes < 1) throw new RangeError('maxBufferedBytes must be a positive integer')
    this.#feed = feed
    this.#maxClients = opts.maxClients
    this.#maxBufferedBytes = opts.maxBufferedBytes
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS
    this.#logger = opts.logger
  }

  stats (): WsHubStats {
    return { clients: this.#clients.size, subscribed: this.#unsubscribe != null, refused: this.#refused, tooSlow: this.#tooSlow }
  }

  /** Takes a newly upgraded socket: subscribes it, or closes it if the hub is full or stopping. */
  add (socket: WebSocket): void {
    if (this.#shuttingDown) {
      this.#close(socket, WS_CLOSE_GOING_AWAY, 'server shutting down')
      return
    }
    if (this.#clients.size >= this.#maxClients) {
      this.#refused++
      this.#logger?.warn({ clients: this.#clients.size, max: this.#maxClients }, 'WebSocket client refused: too many clients')
      this.#close(socket, WS_CLOSE_TRY_AGAIN, `too many clients (at most ${this.#maxClients}); try again later`)
      return
    }
    this.#clients.add(socket)
    socket.once('close', () => { this.#forget(socket) })
    socket.on('error', (err) => {
      this.#logger?.debug({ err: errorMessage(err) }, 'WebSocket client error')
      this.#forget(socket)
      socket.terminate()
    })
    if (this.#unsubscribe == null) this.#unsubscribe = this.#feed.onDelivered((delivered) => { this.#deliver(delivered) })
  }

  /** Closes every client (server shutdown); later clients are turned away. */
  closeAll (): void {
    this.#shuttingDown = true
    for (const socket of [...this.#clients]) {
      this.#forget(socket)
      this.#close(socket, WS_CLOSE_GOING_AWAY, 'server shutting down')
    }
  }

  #deliver (delivered: DeliveredBlock): void {
    if (this.#clients.size === 0) return
    let frame: Buffer
    try {
      frame = Buffer.from(JSON.stringify({ type: 'block', block: { ...blockToJson(delivered.block, delivered.hash), localHeight: delivered.localHeight } }))
    } catch (err) {
      this.#logger?.error({ err: errorMessage(err), localHeight: delivered.localHeight }, 'cannot serialise a delivered block for WebSocket clients')
      return
    }
    for (const socket of this.#clients) {
      if (socket.readyState !== socket.OPEN) {
        this.#forget(socket)
        continue
      }
      const queued = socket.bufferedAmount
      if (queued > 0 && queued + frame.length > this.#maxBufferedBytes) {
        this.#tooSlow++
        this.#logger?.warn({ queued, frameBytes: frame.length, max: this.#maxBufferedBytes }, 'WebSocket client too slow; closing it')
        this.#forget(socket)
        this.#close(socket, WS_CLOSE_TOO_SLOW, `client too slow: send buffer over ${this.#maxBufferedBytes} bytes`)
        continue
      }
      try {
        // the same Buffer for every client: a server frame is not masked, so ws does not copy it
        socket.send(frame, { binary: false })
      } catch (err) {
        this.#logger?.debug({ err: errorMessage(err) }, 'WebSocket send failed; dropping the client')
        this.#forget(socket)
        socket.terminate()
      }
    }
  }

  #forget (socket: WebSocket): void {
    if (!this.#clients.delete(socket)) return
    if (this.#clients.size === 0 && this.#unsubscribe != null) {
      const unsubscribe = this.#unsubscribe
      this.#unsubscribe = undefined
      unsubscribe()
    }
  }

  /** Starts the close handshake and cuts the connection if it does not finish in time. */
  #close (socket: WebSocket, code: number, reason: string): void {
    if (socket.readyState === socket.CLOSED) return
    const timer = setTimeout(() => { socket.terminate() }, this.#closeTimeoutMs)
    socket.once('close', () => { clearTimeout(timer) })
    try {
      socket.close(code, reason)
    } catch {
      socket.terminate()
    }
  }
}

/**
 * Registers `WS /ephemera/broadcast/ws` (a plain GET answers 426 with a JSON body) and returns the
 * hub, whose stats() the caller may expose. Clients are closed when the server closes.
 */
export function registerWsRoutes (root: FastifyInstance, feed: DeliveredFeed, opts: WsRoutesOptions): WsBlockHub {
  const hub = new WsBlockHub(feed, opts)
  // an encapsulated plugin, so that the route is declared after @fastify/websocket has loaded
  void root.register(async (app) => {
    app.route({
      method: 'GET',
      url: WS_BLOCKS_PATH,
      handler: async (request, reply) => {
        const body: ApiErrorBody = { error: ErrorCode.BAD_REQUEST, message: `${request.method} ${WS_BLOCKS_PATH} is a WebSocket endpoint: connect with "Upgrade: websocket"` }
        return await reply.code(426).header('upgrade', 'websocket').send(body)
      },
      wsHandler: (socket) => { hub.add(socket) }
    })
    app.addHook('preClose', async () => { hub.closeAll() })
  })
  return hub
}
