/** Small HTTP helpers with deadlines: a paused or dead process must never hang the harness. */

export class HttpError extends Error {
  constructor (readonly url: string, readonly status: number, readonly body: string) {
    super(`GET ${url}: ${status} ${body.slice(0, 200)}`)
  }
}

export async function getJson<T = any> (url: string, timeoutMs = 2_000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  const text = await res.text()
  if (!res.ok) throw new HttpError(url, res.status, text)
  return JSON.parse(text) as T
}

/** The JSON answer, or undefined on any failure (connection refused, timeout, 4xx/5xx). */
export async function tryGetJson<T = any> (url: string, timeoutMs = 2_000): Promise<T | undefined> {
  try {
    return await getJson<T>(url, timeoutMs)
  } catch {
    return undefined
  }
}

/** GET that tells 404 apart: `null` for 404, undefined for no answer. */
export async function getOrNull<T = any> (url: string, timeoutMs = 2_000): Promise<T | null | undefined> {
  try {
    return await getJson<T>(url, timeoutMs)
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) return null
    return undefined
  }
}

export { postJson } from '../../helpers/messages.js'

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i] as T)
    }
  })
  await Promise.all(workers)
  return out
}
