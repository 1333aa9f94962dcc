import { readFileSync } from 'node:fs'
import { sleep } from '../util/time.js'

/**
 * Whether `pid` is a live (not zombie) process, and, when `marker` is given, one whose command
 * line contains it: a recycled pid running something else does not count.
 */
export function processAlive (pid: number, marker?: string): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    if (state === 'Z' || state === 'X') return false
    if (marker != null) return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(marker))
  } catch {
    // no /proc (not Linux): trust kill(0)
  }
  return true
}

function signal (pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

/** Waits until none of `pids` is alive, or the deadline; returns those still alive. */
export async function waitForExit (pids: Array<{ pid: number, marker?: string }>, timeoutMs: number): Promise<Array<{ pid: number, marker?: string }>> {
  const deadline = Date.now() + timeoutMs
  let alive = pids.filter((p) => processAlive(p.pid, p.marker))
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50)
    alive = alive.filter((p) => processAlive(p.pid, p.marker))
  }
  return alive
}

/**
 * Stops processes: SIGTERM, up to `graceMs` for a clean exit, then SIGKILL. Resolves once every
 * one is gone; returns how many needed SIGKILL.
 */
export async function terminate (pids: Array<{ pid: number, marker?: string }>, graceMs = 10_000): Promise<number> {
  const alive = pids.filter((p) => processAlive(p.pid, p.marker))
  for (const p of alive) signal(p.pid, 'SIGTERM')
  const stubborn = await waitForExit(alive, graceMs)
  for (const p of stubborn) signal(p.pid, 'SIGKILL')
  const left = await waitForExit(stubborn, 5_000)
  if (left.length > 0) throw new Error(`processes ${left.map((p) => p.pid).join(', ')} did not exit after SIGKILL`)
  return stubborn.length
}

export function kill (pid: number): void {
  signal(pid, 'SIGKILL')
}
