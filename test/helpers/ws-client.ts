import type { IncomingMessage } from 'node:http'
import WebSocket from 'ws'

/**
 * A `ws` client of the WebSocket routes (WS /ephemera/broadcast/ws, WS /contract/ws) for tests:
 * it keeps every frame (raw, and parsed when asked), and how the server closed it.
 */
export interface WsTestClient {
  ws: WebSocket
  /** Frames received, in order. */
  raw: Buffer[]
  /** Parsed frames, when connected with `parse` (the default). */
  frames: Array<{ type: string } & Record<string, any>>
  closed: Promise<{ code: number, reason: string }>
  closedWith: { code: number, reason: string } | undefined
}

/** Connects; `cleanup` gets a function that terminates the client (for afterEach). */
export async function wsConnect (url: string, cleanup: (fn: () => void) => void, opts: { parse?: boolean } = {}): Promise<WsTestClient> {
  const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 })
  cleanup(() => { ws.terminate() })
  const c: WsTestClient = { ws, raw: [], frames: [], closed: undefined as unknown as WsTestClient['closed'], closedWith: undefined }
  c.closed = new Promise((resolve) => {
    ws.once('close', (code, reason) => {
      c.closedWith = { code, reason: reason.toString() }
      resolve(c.closedWith)
    })
  })
  ws.on('message', (data: Buffer) => {
    c.raw.push(data)
    if (opts.parse !== false) c.frames.push(JSON.parse(data.toString('utf8')) as WsTestClient['frames'][number])
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { resolve() })
    ws.once('error', reject)
  })
  return c
}

/** An upgrade the server answers with HTTP instead (a bad query): the status and the JSON body. */
export async function wsRefused (url: string): Promise<{ status: number, body: { error: string, message: string } }> {
  const ws = new WebSocket(url)
  return await new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      reject(new Error(`${url} was upgraded`))
    })
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        ws.terminate()
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { error: string, message: string } })
      })
    })
    ws.once('error', () => {})
  })
}

/** Stops reading from the socket, as a client that never reads would. */
export function pauseReading (c: WsTestClient): void {
  (c.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
}

export function resumeReading (c: WsTestClient): void {
  (c.ws as unknown as { _socket: { resume: () => void } })._socket.resume()
}
