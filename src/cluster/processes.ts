import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
import { basename, resolve } from 'node:path'
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

/** A live process as /proc shows it. */
export interface ProcessInfo {
  pid: number
  /** argv, NUL-separated in /proc/<pid>/cmdline */
  args: string[]
  /** Its working directory, when readable (relative arguments resolve against it). */
  cwd: string | undefined
}

/** This process's parent, its parent's parent, and so on (a wrapper such as `npx ephemera cluster up` is not another process of the cluster). */
function ancestors (): Set<number> {
  const out = new Set<number>()
  let pid = process.ppid
  while (pid > 1 && !out.has(pid) && out.size < 64) {
    out.add(pid)
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    } catch {
      break
    }
  }
  return out
}

/**
 * Every live (not zombie) process but this one and its ancestors, from /proc. Empty where there
 * is no /proc (not Linux): callers then rely on what cluster.json records.
 */
export function listProcesses (): ProcessInfo[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return []
  }
  const skip = ancestors().add(process.pid)
  const out: ProcessInfo[] = []
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (skip.has(pid)) continue
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      if (state === 'Z' || state === 'X') continue
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (args.at(-1) === '') args.pop()
      if (args.length === 0) continue // kernel thread
      let cwd: string | undefined
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`)
      } catch {
        // another user's process
      }
      out.push({ pid, args, cwd })
    } catch {
      // exited while we looked
    }
  }
  return out
}

/** The path and, when it exists, its real path (symlinks resolved): a path may be named either way. */
function pathForms (path: string): string[] {
  const forms = [resolve(path)]
  try {
    const real = realpathSync(path)
    if (real !== forms[0]) forms.push(real)
  } catch {
    // does not exist (yet)
  }
  return forms
}

/** The values a command line gives to `--flag` (as `--flag V` or `--flag=V`), resolved against the process's cwd. */
export function flagValues (p: ProcessInfo, flag: string): string[] {
  const values: string[] = []
  p.args.forEach((arg, i) => {
    const value = arg === flag ? p.args[i + 1] : arg.startsWith(`${flag}=`) ? arg.slice(flag.length + 1) : undefined
    if (value != null && value !== '') values.push(resolve(p.cwd ?? '/', value))
  })
  return values
}

/**
 * Live processes whose command line passes `--config` one of `files` (`ephemera node run --config
 * F` or `contract run --config F`, started by `cluster up` or by hand): pid, the file it names.
 */
export function processesWithConfig (files: string[], processes: ProcessInfo[] = listProcesses()): Array<{ process: ProcessInfo, file: string }> {
  const wanted = new Map<string, string>()
  for (const file of files) for (const form of pathForms(file)) wanted.set(form, resolve(file))
  const names = new Set(files.map((f) => basename(f)))
  const found: Array<{ process: ProcessInfo, file: string }> = []
  for (const p of processes) {
    for (const value of flagValues(p, '--config')) {
      if (!names.has(basename(value))) continue
      const file = pathForms(value).map((form) => wanted.get(form)).find((f) => f != null)
      if (file != null) {
        found.push({ process: p, file })
        break
      }
    }
  }
  return found
}

/** Live `ephemera cluster up` supervisors for `dir` (its `--dir`, or the default, resolved against their cwd). */
export function supervisorsOf (dir: string, defaultDir: string, processes: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  const forms = new Set(pathForms(dir))
  return processes.filter((p) => {
    const at = p.args.indexOf('cluster')
    if (at < 0 || p.args[at + 1] !== 'up') return false
    const dirs = flagValues(p, '--dir')
    const target = dirs.at(-1) ?? resolve(p.cwd ?? '/', defaultDir)
    return pathForms(target).some((form) => forms.has(form))
  })
}

/** A command line for messages, shortened: `ephemera ARGS` for the CLI run by node. */
export function describeCommand (p: ProcessInfo, max = 120): string {
  const script = p.args.findIndex((arg, i) => i > 0 && /^ephemera(\.js)?$/.test(basename(arg)))
  const text = script > 0 ? ['ephemera', ...p.args.slice(script + 1)].join(' ') : p.args.join(' ')
  return text.length > max ? `${text.slice(0, max - 3)}...` : text
}
