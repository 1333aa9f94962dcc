import { EphemeraError, ErrorCode } from '../util/errors.js'

/**
 * JSON over HTTP for CLI commands, with one-line errors: an unreachable node, a non-JSON answer
 * and an error status (with the node's message) each become an ERR_REMOTE EphemeraError.
 */
export async function requestJson<T> (method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 10_000): Promise<T> {
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs)
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code
    throw new EphemeraError(ErrorCode.REMOTE, `cannot reach ${new URL(url).origin}${cause != null ? ` (${cause})` : ''}: is the node running?`)
  }
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new EphemeraError(ErrorCode.REMOTE, `${method} ${url}: HTTP ${res.status}, not JSON`)
  }
  if (!res.ok) {
    const message = typeof json === 'object' && json != null && 'message' in json ? String((json as { message: unknown }).message) : text.slice(0, 200)
    throw new EphemeraError(ErrorCode.REMOTE, `${method} ${new URL(url).pathname}: HTTP ${res.status}: ${message}`, { status: res.status })
  }
  return json as T
}

/** Normalises a --node URL (no trailing slash; http:// added when missing). */
export function nodeUrl (value: string): string {
  const withScheme = /^https?:\/\//.test(value) ? value : `http://${value}`
  try {
    return new URL(withScheme).toString().replace(/\/$/, '')
  } catch {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--node must be a URL like http://127.0.0.1:7002, got "${value}"`)
  }
}
