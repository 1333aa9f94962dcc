import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Running } from './mesh.js'
import type { ProcessPlan } from './plan.js'
import type { ClusterNodeState } from './state.js'

/** Starting a cluster's processes (`cluster up`, `cluster add`) and what cluster.json records of each. */

/** The CLI entry this process runs from; children run the same one. */
function cliInvocation (): { command: string, args: string[] } {
  const script = process.argv[1]
  if (script == null) throw new EphemeraError(ErrorCode.CLUSTER, 'cannot locate the ephemera CLI script to start nodes with')
  return { command: process.execPath, args: [...process.execArgv, script] }
}

export function lastLogLines (file: string, count = 3): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n').slice(-count)
    return lines.map((line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string, err?: string }
        return parsed.err != null ? `${parsed.msg ?? ''}: ${parsed.err}` : parsed.msg ?? line
      } catch {
        return line
      }
    }).join(' | ')
  } catch {
    return '(no log output)'
  }
}

export function startProcess (plan: ProcessPlan, withIpc: boolean): Running {
  const { command, args } = cliInvocation()
  const fd = openSync(plan.logFile, 'a')
  try {
    const child = spawn(command, [...args, ...plan.args], {
      // own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the
      // processes in order; with the IPC channel a process also stops if the supervisor dies
      detached: true,
      stdio: withIpc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' }
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

