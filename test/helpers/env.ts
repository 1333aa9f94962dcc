import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export async function makeTempDir (prefix = 'ephemera-test-'): Promise<string> {
  return await mkdtemp(join(tmpdir(), prefix))
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** A random block of `count` consecutive free TCP ports on 127.0.0.1, below the ephemeral range; returns the first. */
export { freePortBlock } from './ports.js'

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T> (check: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs: number, intervalMs?: number, what: string }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${lastError != null ? ` (last error: ${String(lastError)})` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 100))
  }
}

export async function getJson<T = any> (url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return await res.json() as T
}

/** Whether `pid` is a live process (a zombie awaiting its reaper counts as gone). */
export async function isRunning (pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** Pids of live processes whose command line mentions `marker` (e.g. a test's temp dir). */
export async function processesMentioning (marker: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8')
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      if (state !== 'Z' && cmdline.includes(marker)) pids.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  return pids
}
