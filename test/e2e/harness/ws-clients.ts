import WebSocket from 'ws'

/**
 * Clients of a node's block push (`WS /ephemera/broadcast/ws`): a normal one counts what it gets;
 * a stalled one stops reading its socket (so the server's send buffer for it grows) until resumed.
 */
export class BlockClient {
  readonly ws: WebSocket
  readonly label: string
  frames = 0
  bytes = 0
  lastFrameAt = 0
  /** Local heights of the blocks received (normal clients parse each frame). */
  readonly heights = new Set<number>()
  closed: { code: number, reason: string, at: number } | undefined
  readonly opened: Promise<void>
  readonly #parse: boolean

  constructor (url: string, label: string, opts: { parse?: boolean } = {}) {
    this.label = label
    this.#parse = opts.parse ?? true
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ephemera/broadcast/ws`, { maxPayload: 64 * 1024 * 1024 })
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => { resolve() })
      this.ws.once('error', reject)
    })
    this.ws.on('error', () => {})
    this.ws.on('message', (data: Buffer) => {
      this.frames++
      this.bytes += data.length
      this.lastFrameAt = Date.now()
      if (this.#parse) {
        try {
          const frame = JSON.parse(data.toString('utf8')) as { block?: { localHeight?: number } }
          if (typeof frame.block?.localHeight === 'number') this.heights.add(frame.block.localHeight)
        } catch {}
      }
    })
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString('utf8'), at: Date.now() } })
  }

  /** Stops reading the socket: the server's send buffer for this client grows. */
  stall (): void {
    (this.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  }

  resume (): void {
    (this.ws as unknown as { _socket: { resume: () => void } })._socket.resume()
  }

  close (): void {
    try {
      this.resume()
      this.ws.terminate()
    } catch {}
  }
}
