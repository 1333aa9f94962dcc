import { signRequest } from '../epochs/auth.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

/**
 * JSON over HTTP for CLI commands, with one-line errors: an unreachable node, a non-JSON answer
 * and an error status (with the node's message) each become an ERR_REMOTE EphemeraError
 * (details: the HTTP status and the remote error code). A string body is sent as it is (JSON
 * already serialised, e.g. the exact bytes a signature covers); anything else is serialised here.
 */
export async function requestJson<T> (method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = 10_000, extraHeaders: Record<string, string> = {}): Promise<T> {
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? extraHeaders : { 'content-type': 'application/json', ...extraHeaders },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
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
    const code = typeof json === 'object' && json != null && 'error' in json ? String((json as { error: unknown }).error) : undefined
    throw new EphemeraError(ErrorCode.REMOTE, `${method} ${new URL(url).pathname}: HTTP ${res.status}: ${message}`, { status: res.status, code })
  }
  return json as T
}

/** What signs a request: a node key or the operator's admin key (src/crypto/keys.ts NodeKey). */
export interface RequestSigner {
  readonly publicKey: Uint8Array
  sign: (message: Uint8Array) => Uint8Array
}

/**
 * A signed POST to the coordinator (docs/PROTOCOL.md §7.5): the signature covers the method, the
 * path (no query string) and the exact body bytes sent.
 */
export async function signedPostJson<T> (baseUrl: string, path: string, body: unknown, signer: RequestSigner): Promise<T> {
  const text = JSON.stringify(body)
  const headers = signRequest(signer.publicKey, (bytes) => signer.sign(bytes), 'POST', path, new TextEncoder().encode(text))
  return await requestJson<T>('POST', `${baseUrl}${path}`, text, 10_000, headers)
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
