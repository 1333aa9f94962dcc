import type { WebSocket } from '@fastify/websocket'
import { errorMessage, isEphemeraError } from '../util/errors.js'
import { statusForCode } from './errors.js'
import type { Logger } from '../util/logger.js'

/** Close code for a client that does not read fast enough (policy violation). */
export const WS_CLOSE_TOO_SLOW = 1008
/** Close code for a replay the client may not have (over the bound once the socket was open). */
export const WS_CLOSE_POLICY = 1008
/** Close code for a client over the cap on clients (try again later). */
export const WS_CLOSE_TRY_AGAIN = 1013
/** Close code when the server shuts down. */
export const WS_CLOSE_GOING_AWAY = 1001
/** Close code when a replay could not be read (the server's storage failed). */
export const WS_CLOSE_SERVER_ERROR = 1011

/** One event, serialised once for every client: a frame `{type, [type]: payload}` (src/api/ws-feed.ts). */
export interface HubEvent {
  readonly type: string
  /**
   * Set on events a replay can also produce (e.g. `block:12`, `epoch:7`): a live copy of an event
   * a client got from its replay is not sent to it again.
   */
  readonly id?: string
  /** The frame: UTF-8 JSON. */
  readonly frame: Buffer
}

export type HubListener = (event: HubEvent) => void

/** Where live events come from; the hub subscribes only while it has clients. */
export interface EventSource {
  subscribe: (listener: HubListener) => () => void
}

/** Stored events a client asked for (`?from_height=`, `?from_epoch=`), sent before the live ones. */
export interface Replay {
  /** The stored events in order, read lazily: the hub waits for the client to read between them. */
  events: (signal: AbortSignal) => AsyncIterable<HubEvent>
  /** The frame that ends the replay, once `sent` frames were sent; the frames after it are live. */
  end: (sent: number) => Buffer
}

/** What one client gets: the event types it asked for, and a replay first if it asked for one. */
export interface ClientOptions {
  types: ReadonlySet<string>
  replay?: Replay
}

export interface WsHubOptions {
  /** Most clients at once; a client over it is closed with 1013. */
  maxClients: number
  /**
   * Most bytes queued for one client; a client over it is closed with 1008. While a client's
   * replay runs, the live events for it wait in a queue of at most as many bytes again.
   */
  maxBufferedBytes: number
  /** A client that has not finished the close handshake this long after we closed it is cut off (default 2 s). */
  closeTimeoutMs?: number
  logger?: Logger
}

export interface WsHubStats {
  /** Clients currently connected (replaying or live). */
  clients: number
  /** Clients whose replay is still running. */
  replaying: number
  /** Whether the hub holds a subscription to its sources (only while it has clients). */
  subscribed: boolean
  /** Clients closed because they were over the cap, since start. */
  refused: number
  /** Clients closed because their queue was over the bound, since start. */
  tooSlow: number
}

interface Client {
  readonly socket: WebSocket
  readonly types: ReadonlySet<string>
  /** Aborted when the client goes: stops its replay. */
  readonly gone: AbortController
  /** While the replay runs: the live events for this client, sent once it ends. */
  held: HubEvent[] | undefined
  heldBytes: number
  /** While the replay runs: the ids of the events it sent (their live copies are dropped). */
  replayed: Set<string> | undefined
}

const DEFAULT_CLOSE_TIMEOUT_MS = 2_000

/** A close reason fits in 123 bytes (RFC 6455 §5.5): cut at a character boundary. */
function closeReason (text: string): string {
  let out = text
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1)
  return out
}

/**
 * Fans typed events out to WebSocket clients (both processes: the node's `WS /ephemera/broadcast/ws`
 * and the coordinator's `WS /contract/ws`). It holds one subscription to its source while it has
 * clients, and each event is serialised once for all of them. A client gets only the types it
 * asked for. A client may ask for a replay of stored events first: the hub is subscribed before
 * the replay reads anything, holds the client's live events meanwhile, and after the replay sends
 * the end frame and then the held events that the replay did not already send: no gap and no
 * duplicate. Every client is bounded: at most `maxClients`, at most about `maxBufferedBytes`
 * queued for each (a client with nothing queued still gets a larger frame), and as much again held
 * during its replay, which waits for the client to read. A client over a bound is closed and
 * forgotten at once, and cut off if it does not finish the close handshake within `closeTimeoutMs`.
 */
export class WsEventHub {
  readonly #source: EventSource
  readonly #maxClients: number
  readonly #maxBufferedBytes: number
  readonly #closeTimeoutMs: number
  readonly #logger: Logger | undefined
  readonly #clients = new Map<WebSocket, Client>()
  readonly #replays = new Set<Promise<void>>()
  #unsubscribe: (() => void) | undefined
  #shuttingDown = false
  #refused = 0
  #tooSlow = 0

  constructor (source: EventSource, opts: WsHubOptions) {
    if (!Number.isInteger(opts.maxClients) || opts.maxClients < 1) throw new RangeError('maxClients must be a positive integer')
    if (!Number.isInteger(opts.maxBufferedBytes) || opts.maxBufferedBytes < 1) throw new RangeError('maxBufferedBytes must be a positive integer')
    this.#source = source
    this.#maxClients = opts.maxClients
    this.#maxBufferedBytes = opts.maxBufferedBytes
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS
    this.#logger = opts.logger
  }

  stats (): WsHubStats {
    let replaying = 0
    for (const c of this.#clients.values()) if (c.held != null) replaying++
    return { clients: this.#clients.size, replaying, subscribed: this.#unsubscribe != null, refused: this.#refused, tooSlow: this.#tooSlow }
  }

  /** Takes a newly upgraded socket: subscribes it (and starts its replay), or closes it if the hub is full or stopping. */
  add (socket: WebSocket, options: ClientOptions): void {
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
    const replaying = options.replay != null
    const client: Client = { socket, types: options.types, gone: new AbortController(), held: replaying ? [] : undefined, heldBytes: 0, replayed: replaying ? new Set() : undefined }
    this.#clients.set(socket, client)
    socket.once('close', () => { this.#forget(socket) })
    socket.on('error', (err) => {
      this.#logger?.debug({ err: errorMessage(err) }, 'WebSocket client error')
      this.#forget(socket)
      socket.terminate()
    })
    // subscribed before the replay reads anything: whatever the replay misses arrives live
    if (this.#unsubscribe == null) this.#unsubscribe = this.#source.subscribe((event) => { this.#deliver(event) })
    if (options.replay != null) {
      const task = this.#replay(client, options.replay)
      this.#replays.add(task)
      void task.finally(() => { this.#replays.delete(task) })
    }
  }

  /** Closes every client (server shutdown) and waits for their replays to stop; later clients are turned away. */
  async closeAll (): Promise<void> {
    this.#shuttingDown = true
    for (const socket of [...this.#clients.keys()]) {
      this.#forget(socket)
      this.#close(socket, WS_CLOSE_GOING_AWAY, 'server shutting down')
    }
    await Promise.allSettled([...this.#replays])
  }

  /** Closes one client with a code and reason (e.g. a replay over its bound). */
  reject (socket: WebSocket, code: number, reason: string): void {
    this.#forget(socket)
    this.#close(socket, code, reason)
  }

  #deliver (event: HubEvent): void {
    for (const client of this.#clients.values()) {
      if (!client.types.has(event.type)) continue
      if (client.held != null) {
        // the replay runs: held, within the same bound
        if (client.heldBytes > 0 && client.heldBytes + event.frame.length > this.#maxBufferedBytes) {
          this.#tooSlowClose(client, client.heldBytes, event.frame.length, 'live events held during the replay')
          continue
        }
        client.held.push(event)
        client.heldBytes += event.frame.length
        continue
      }
      this.#send(client, event.frame, true)
    }
  }

  /**
   * Sends a frame; with `bounded`, a client whose queue would go over the bound is closed instead.
   * `written` runs once the frame is written out (or the socket failed). False if the client is gone.
   */
  #send (client: Client, frame: Buffer, bounded: boolean, written?: () => void): boolean {
    const socket = client.socket
    if (socket.readyState !== socket.OPEN) {
      this.#forget(socket)
      return false
    }
    const queued = socket.bufferedAmount
    if (bounded && queued > 0 && queued + frame.length > this.#maxBufferedBytes) {
      this.#tooSlowClose(client, queued, frame.length, 'send buffer')
      return false
    }
    try {
      // the same Buffer for every client: a server frame is not masked, so ws does not copy it
      socket.send(frame, { binary: false }, written)
      return true
    } catch (err) {
      this.#logger?.debug({ err: errorMessage(err) }, 'WebSocket send failed; dropping the client')
      this.#forget(socket)
      socket.terminate()
      return false
    }
  }

  async #replay (client: Client, replay: Replay): Promise<void> {
    const signal = client.gone.signal
    let sent = 0
    try {
      // resolves once the last frame sent is written out: the replay waits for a client that reads slowly
      let flushed: Promise<void> = Promise.resolve()
      for await (const event of replay.events(signal)) {
        if (signal.aborted) return
        if (!client.types.has(event.type)) continue
        if (event.id != null) client.replayed?.add(event.id)
        let done = (): void => {}
        flushed = new Promise((resolve) => { done = resolve })
        if (!this.#send(client, event.frame, false, () => { done() })) return
        sent++
        if (client.socket.bufferedAmount >= this.#maxBufferedBytes) await this.#untilGone(flushed, signal)
      }
      if (signal.aborted) return
      if (client.socket.bufferedAmount >= this.#maxBufferedBytes) await this.#untilGone(flushed, signal)
      if (signal.aborted || !this.#send(client, replay.end(sent), false)) return
      // from here on synchronously: the held events (less what the replay sent), then live
      const held = client.held ?? []
      const replayed = client.replayed ?? new Set()
      client.held = undefined
      client.heldBytes = 0
      client.replayed = undefined
      for (const event of held) {
        if (event.id != null && replayed.has(event.id)) continue
        if (!this.#send(client, event.frame, false)) return
      }
    } catch (err) {
      if (signal.aborted) return
      // a replay the client may not have (over the bound) is a policy violation; anything else the server's fault
      const refused = isEphemeraError(err) && statusForCode(err.code) < 500
      if (!refused) this.#logger?.error({ err: errorMessage(err) }, 'WebSocket replay failed')
      this.reject(client.socket, refused ? WS_CLOSE_POLICY : WS_CLOSE_SERVER_ERROR, refused ? errorMessage(err) : `replay failed: ${errorMessage(err)}`)
    }
  }

  /** Waits for `p`, or until the client is gone. */
  async #untilGone (p: Promise<void>, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    let onAbort = (): void => {}
    const gone = new Promise<void>((resolve) => { onAbort = () => { resolve() } })
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await Promise.race([p, gone])
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  #tooSlowClose (client: Client, queued: number, frameBytes: number, what: string): void {
    this.#tooSlow++
    this.#logger?.warn({ queued, frameBytes, max: this.#maxBufferedBytes, what }, 'WebSocket client too slow; closing it')
    this.reject(client.socket, WS_CLOSE_TOO_SLOW, `client too slow: send buffer over ${this.#maxBufferedBytes} bytes`)
  }

  #forget (socket: WebSocket): void {
    const client = this.#clients.get(socket)
    if (client == null) return
    this.#clients.delete(socket)
    client.gone.abort()
    client.held = undefined
    client.replayed = undefined
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
      socket.close(code, closeReason(reason))
    } catch {
      socket.terminate()
    }
  }
}
