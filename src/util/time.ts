import { AbortError, TimeoutError } from './errors.js'

/** Resolves after `ms`, or rejects with AbortError as soon as `signal` aborts. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) throw new AbortError()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new AbortError())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Runs `fn` with a signal that aborts after `ms` (or when `signal` aborts). Missing the deadline
 * rejects with TimeoutError(`what`), whether `fn` honours its signal or ignores it.
 */
export async function withTimeout<T> (fn: (signal: AbortSignal) => Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  const deadline = new AbortController()
  const combined = signal == null ? deadline.signal : AbortSignal.any([deadline.signal, signal])
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new TimeoutError(`${what} did not finish within ${ms} ms`))
      deadline.abort()
    }, ms)
  })
  try {
    return await Promise.race([fn(combined), expired])
  } catch (err) {
    if (deadline.signal.aborted && signal?.aborted !== true) throw new TimeoutError(`${what} did not finish within ${ms} ms`)
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/** Exponential backoff with full jitter, bounded by `max`. `random` is injectable for tests. */
export function backoffDelay (attempt: number, initial: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, attempt))
  // half fixed, half jittered: never 0, never above the ceiling
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
