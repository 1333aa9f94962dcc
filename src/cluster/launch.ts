import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync } from 'node:fs'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Running } from './mesh.js'
import type { ProcessPlan } from './plan.js'
import type { ClusterNodeState } from './state.js'

/** Starting a cluster's processes (`cluster up`, `cluster add`) and what cluster.json records of each. */

/**
 * Node options every process of a cluster runs with. `--max-semi-space-size=1` (MiB): V8's young
 * generation grows to 2 × 16 MiB under allocation by default, and those pages stay resident; a
 * node needs far less. Measured at 4 nodes: RSS per node ~142 → ~120 MiB, the coordinator's
 * ~117 → ~90 MiB, with no measurable change in CPU or commit latency (README "Benchmark").
 * (`--heap-growing-percent=20`, a full collection once the old generation grew 20 % past what the
 * last one kept, took another ~20 MiB off a rewards node but cost the messages application a
 * third of its throughput: measured and not kept, README "Start-up and memory".)
 */
export const PROCESS_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=1']

/**
 * Environment every process of a cluster gets unless the caller's environment sets it:
 * `MALLOC_MMAP_THRESHOLD_` fixes glibc's threshold above which an allocation gets its own mapping
 * (returned to the system when freed) at 128 KiB. glibc otherwise raises the threshold each time
 * such a block is freed, and later large buffers (a ~130 KB record, a block's encoding) are carved
 * from the heap arenas, whose freed pages stay resident. Measured at 4 nodes, 2 s epochs (with the
 * bundled CLI and a heap option since dropped): RSS per node 105–117 → 98–106 MiB.
 */
export const PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) }

/** The environment a child process starts with: the caller's, PROCESS_ENV where the caller has not set a key, LOG_LEVEL `info` unless set. */
export function childEnv (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...PROCESS_ENV, ...env, LOG_LEVEL: env.LOG_LEVEL ?? 'info' }
}

/** The node executable and arguments children run: the CLI entry this process runs from, with this process's node options and PROCESS_NODE_OPTIONS (unless it sets them itself). */
export function cliInvocation (execArgv: readonly string[] = process.execArgv, script: string | null = process.argv[1] ?? null): { command: string, args: string[] } {
  if (script == null) throw new EphemeraError(ErrorCode.CLUSTER, 'cannot locate the ephemera CLI script to start nodes with')
  const name = (option: string): string => option.split('=')[0] as string
  const own = PROCESS_NODE_OPTIONS.filter((option) => !execArgv.some((arg) => name(arg) === name(option)))
  return { command: process.execPath, args: [...execArgv, ...own, script] }
}

/**
 * Where a process's own output goes: its log lines go to `logFile` through the size-rotated
 * `log.file` (bounded however long it runs); stdout and stderr — a startup error, a crash's stack —
 * go to this file, appended to across restarts and truncated at a start once it passes 1 MiB.
 */
export function outputFile (plan: ProcessPlan): string {
  return plan.logFile.replace(/\.log$/, '') + '.out'
}

/** The last lines a process wrote: its output (a startup error) if any, else its log. */
export function lastLogLines (plan: ProcessPlan, count = 3): string {
  const read = (file: string): string => { try { return readFileSync(file, 'utf8').trim() } catch { return '' } }
  const text = read(outputFile(plan)) || read(plan.logFile)
  if (text === '') return '(no log output)'
  return text.split('\n').slice(-count).map((line) => {
    try {
      const parsed = JSON.parse(line) as { msg?: string, err?: string }
      return parsed.err != null ? `${parsed.msg ?? ''}: ${parsed.err}` : parsed.msg ?? line
    } catch {
      return line
    }
  }).join(' | ')
}

/** Output kept across restarts (a crash's stack survives the restart) until it passes this size. */
const MAX_OUTPUT_BYTES = 1024 * 1024

function openOutput (file: string): number {
  let size = 0
  try { size = statSync(file).size } catch { /* a new file */ }
  return openSync(file, size > MAX_OUTPUT_BYTES ? 'w' : 'a')
}

export function startProcess (plan: ProcessPlan, withIpc: boolean): Running {
  const { command, args } = cliInvocation()
  const fd = openOutput(outputFile(plan))
  try {
    const child = spawn(command, [...args, ...plan.args, '--log-file', plan.logFile], {
      // own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the
      // processes in order; with the IPC channel a process also stops if the supervisor dies
      detached: true,
      stdio: withIpc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
      env: childEnv()
    })
    if (child.pid == null) throw new EphemeraError(ErrorCode.CLUSTER, `could not start ${plan.name}`)
    if (!withIpc) child.unref()
    const running: Running = { plan, pid: child.pid, child }
    child.on('exit', (code, sig) => { running.exit = sig != null ? `killed by ${sig}` : `exit code ${String(code)}` })
    return running
  } finally {
    closeSync(fd)
  }
}

export function processState (r: Running): ClusterNodeState {
  return {
    name: r.plan.name,
    peerId: r.plan.peerId,
    pid: r.pid,
    httpUrl: r.plan.httpUrl,
    multiaddr: r.plan.address == null ? null : `${r.plan.address}/p2p/${r.plan.peerId ?? ''}`,
    configFile: r.plan.configFile,
    logFile: r.plan.logFile,
    startedAt: new Date().toISOString()
  }
}

