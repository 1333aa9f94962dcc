import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The built CLI (`npm test` builds before running the suite). */
export const CLI = fileURLToPath(new URL('../../dist/bin/ephemera.js', import.meta.url))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

const tracked = new Set<ChildProcess>()

/** Runs `ephemera ARGS` to completion (killed at the deadline). */
export async function runCli (args: string[], opts: { env?: NodeJS.ProcessEnv, timeoutMs?: number, cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, LOG_LEVEL: 'silent', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  tracked.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.on('exit', (c, s) => { resolve([c, s]) })
  })
  // let the pipes drain
  await new Promise((resolve) => setImmediate(resolve))
  clearTimeout(timer)
  tracked.delete(child)
  return { code, signal, stdout, stderr }
}

/** Starts a long-running `ephemera ARGS` with its output appended to `logFile`. */
export function startCli (args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const fd = openSync(logFile, 'a')
  try {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', fd, fd]
    })
    tracked.add(child)
    child.on('exit', () => tracked.delete(child))
    return child
  } finally {
    closeSync(fd)
  }
}

export async function waitForExit (child: ChildProcess, timeoutMs: number): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  if (child.exitCode != null || child.signalCode != null) return { code: child.exitCode, signal: child.signalCode }
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`process ${child.pid} still running after ${timeoutMs} ms`)) }, timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

/** Kills every process these helpers started that is still running (afterAll safety net). */
export function killTracked (): void {
  for (const child of tracked) child.kill('SIGKILL')
  tracked.clear()
}
