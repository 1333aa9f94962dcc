/**
 * Condition waits with deadlines (never fixed sleeps). `check` may throw to fail at once (e.g. the
 * process died); returning false or undefined means "not yet".
 */
export async function waitUntil<T> (check: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs: number, intervalMs?: number, what: string, signal?: AbortSignal }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  for (;;) {
    if (opts.signal?.aborted === true) throw new Error(`aborted while waiting for ${opts.what}`)
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`)
    await delay(opts.intervalMs ?? 200)
  }
}

/** Sleeps until wall-clock time `t` (a scheduled moment, e.g. an offset inside an epoch). */
export async function sleepUntil (t: number, signal?: AbortSignal): Promise<void> {
  const ms = t - Date.now()
  if (ms > 0) await delay(ms, signal)
}

export async function delay (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done (): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
