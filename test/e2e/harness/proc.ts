import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync } from 'node:fs'
import { CLI } from './paths.js'

/**
 * One long-running `ephemera` process (a node or the coordinator) that the harness controls:
 * start (with extra env and flags), kill -9, SIGSTOP/SIGCONT, graceful stop, exit history and
 * VmRSS. Its stdout and stderr (pino JSON lines) are appended to one log file across restarts;
 * each start remembers where its part of the log begins.
 */

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  at: number
  pid: number
}

export interface StartInfo {
  pid: number
  at: number
  logOffset: number
  env: Record<string, string>
  args: string[]
}

const live = new Set<ManagedProcess>()
let exitHookInstalled = false

/** SIGKILLs every process the harness started that still runs (an afterAll / exit safety net). */
export function killAllManaged (): void {
  for (const p of live) p.forceKill()
}

export class ManagedProcess {
  readonly name: string
  readonly role: 'node' | 'coordinator'
  readonly logFile: string
  readonly #args: string[]
  readonly #env: Record<string, string>
  readonly starts: StartInfo[] = []
  readonly exits: ExitInfo[] = []
  #child: ChildProcess | undefined
  #exitWaiters: Array<(exit: ExitInfo) => void> = []
  paused = false

  constructor (opts: { name: string, role: 'node' | 'coordinator', args: string[], logFile: string, env?: Record<string, string> }) {
    this.name = opts.name
    this.role = opts.role
    this.#args = opts.args
    this.logFile = opts.logFile
    this.#env = opts.env ?? {}
    if (!exitHookInstalled) {
      exitHookInstalled = true
      process.once('exit', killAllManaged)
    }
  }

  get pid (): number | undefined {
    return this.#child?.pid
  }

  get running (): boolean {
    return this.#child != null && this.#child.exitCode == null && this.#child.signalCode == null
  }

  get lastExit (): ExitInfo | undefined {
    return this.exits.at(-1)
  }

  /** Starts the process (it must not be running); returns its pid. */
  start (opts: { env?: Record<string, string>, args?: string[] } = {}): number {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid ?? '?'})`)
    let logOffset = 0
    try {
      logOffset = statSync(this.logFile).size
    } catch {}
    const env = { ...this.#env, ...opts.env }
    const args = [...this.#args, ...(opts.args ?? [])]
    const fd = openSync(this.logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', fd, fd]
      })
    } finally {
      closeSync(fd)
    }
    if (child.pid == null) throw new Error(`could not start ${this.name}`)
    const pid = child.pid
    this.#child = child
    this.paused = false
    live.add(this)
    this.starts.push({ pid, at: Date.now(), logOffset, env, args })
    child.once('exit', (code, signal) => {
      const exit = { code, signal, at: Date.now(), pid }
      this.exits.push(exit)
      if (this.#child === child) live.delete(this)
      for (const waiter of this.#exitWaiters.splice(0)) waiter(exit)
    })
    return pid
  }

  signal (signal: NodeJS.Signals): void {
    if (!this.running) throw new Error(`${this.name} is not running`)
    this.#child?.kill(signal)
  }

  /** kill -9 */
  kill9 (): void {
    if (this.paused) this.paused = false
    this.signal('SIGKILL')
  }

  pause (): void {
    this.signal('SIGSTOP')
    this.paused = true
  }

  resume (): void {
    this.signal('SIGCONT')
    this.paused = false
  }

  /** The next exit of the running process (or the last one if it has already exited). */
  async waitExit (timeoutMs: number): Promise<ExitInfo> {
    if (!this.running) {
      const last = this.lastExit
      if (last != null) return last
    }
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${this.name} (pid ${this.pid ?? '?'}) still running after ${timeoutMs} ms`)) }, timeoutMs)
      this.#exitWaiters.push((exit) => {
        clearTimeout(timer)
        resolve(exit)
      })
    })
  }

  /** SIGTERM (after SIGCONT if paused), SIGKILL if it has not exited within `timeoutMs`. */
  async stop (timeoutMs = 15_000): Promise<ExitInfo | undefined> {
    if (!this.running) return undefined
    if (this.paused) this.resume()
    const exited = this.waitExit(timeoutMs + 5_000)
    this.signal('SIGTERM')
    const timer = setTimeout(() => { if (this.running) this.#child?.kill('SIGKILL') }, timeoutMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }

  /** Synchronous SIGKILL (cleanup paths). */
  forceKill (): void {
    if (this.running) {
      try {
        this.#child?.kill('SIGCONT')
        this.#child?.kill('SIGKILL')
      } catch {}
    }
  }

  /** VmRSS of the running process in KiB, or undefined. */
  rssKiB (): number | undefined {
    const pid = this.pid
    if (pid == null || !this.running) return undefined
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const match = /VmRSS:\s+(\d+) kB/.exec(status)
      return match == null ? undefined : Number(match[1])
    } catch {
      return undefined
    }
  }

  /** The log written since start number `startIndex` (default: the latest start). */
  logSince (startIndex = this.starts.length - 1): string {
    const offset = this.starts[startIndex]?.logOffset ?? 0
    try {
      return readFileSync(this.logFile).subarray(offset).toString('utf8')
    } catch {
      return ''
    }
  }

  /** The whole log file. */
  log (): string {
    try {
      return readFileSync(this.logFile, 'utf8')
    } catch {
      return ''
    }
  }
}

export interface LogLine {
  level: number
  time: number
  msg: string
  [key: string]: unknown
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }

/**
 * Parses pino JSON lines (level as a number or a label, time as ms or ISO text); other lines (a
 * stack trace, a CLI error) come back with level 0 and time 0.
 */
export function parseLog (text: string): LogLine[] {
  const out: LogLine[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>
      const level = typeof parsed.level === 'number' ? parsed.level : LEVELS[String(parsed.level)]
      const time = typeof parsed.time === 'number' ? parsed.time : Date.parse(String(parsed.time))
      if (level != null) {
        out.push({ ...parsed, level, time: Number.isNaN(time) ? 0 : time, msg: String(parsed.msg ?? '') })
        continue
      }
    } catch {}
    out.push({ level: 0, time: 0, msg: line })
  }
  return out
}

/** The last few lines of a log, for failure messages. */
export function logTail (text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).map((l) => {
    try {
      const p = JSON.parse(l) as { msg?: string, err?: string }
      return p.err != null ? `${p.msg ?? ''}: ${p.err}` : (p.msg ?? l)
    } catch {
      return l
    }
  }).join(' | ')
}
