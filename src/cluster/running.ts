import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { COORDINATOR_DIR, NODE_CONFIG_FILE } from '../config/generate.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists } from '../util/fs.js'
import { describeCommand, listProcesses, processAlive, processesWithConfig, supervisorsOf } from './processes.js'
import { readClusterState } from './state.js'

/** The directory `cluster up` uses without --dir (resolved against each process's cwd). */
export const DEFAULT_CLUSTER_DIR = '.ephemera/cluster'

/** A live process of a cluster directory. */
export interface ClusterProcess {
  pid: number
  /** node1, coordinator, supervisor, or the config file a process started by hand names */
  what: string
  /** Recorded in cluster.json (so `cluster down` stops it), or found by its command line only. */
  recorded: boolean
  command?: string
}

/** Every config file of DIR a process may run with: the coordinator's, each DIR/<name>/config.toml, and those cluster.json records. */
async function configFiles (dir: string, recorded: string[]): Promise<string[]> {
  const files = new Set(recorded.map((f) => resolve(f)))
  files.add(join(dir, COORDINATOR_DIR, NODE_CONFIG_FILE))
  let entries: string[] = []
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch {
    // no directory: nothing of it can run
  }
  for (const name of entries) {
    const file = join(dir, name, NODE_CONFIG_FILE)
    if (await pathExists(file)) files.add(file)
  }
  return [...files]
}

/**
 * The live processes of the cluster in DIR: the supervisor and the processes cluster.json records
 * (checked by pid and command line, so a recycled pid does not count), any other `cluster up` for
 * DIR, and (on Linux, from /proc) any process whose `--config` names one of DIR's config files,
 * such as a node started by hand with `ephemera node run --config DIR/node1/config.toml`.
 */
export async function runningClusterProcesses (dirOption: string): Promise<ClusterProcess[]> {
  const dir = resolve(dirOption)
  const state = await readClusterState(dir).catch(() => undefined)
  const found = new Map<number, ClusterProcess>()
  if (state?.supervisorPid != null && state.supervisorPid !== process.pid && processAlive(state.supervisorPid, 'cluster')) {
    found.set(state.supervisorPid, { pid: state.supervisorPid, what: 'supervisor', recorded: true })
  }
  const recorded = state == null ? [] : [...(state.coordinator == null ? [] : [state.coordinator]), ...state.nodes]
  for (const p of recorded) {
    if (p.pid != null && p.pid !== process.pid && processAlive(p.pid, p.configFile)) found.set(p.pid, { pid: p.pid, what: p.name, recorded: true })
  }
  const processes = listProcesses()
  for (const p of supervisorsOf(dir, DEFAULT_CLUSTER_DIR, processes)) {
    if (!found.has(p.pid)) found.set(p.pid, { pid: p.pid, what: 'cluster up', recorded: false, command: describeCommand(p) })
  }
  for (const { process: p, file } of processesWithConfig(await configFiles(dir, recorded.map((r) => r.configFile)), processes)) {
    if (!found.has(p.pid)) found.set(p.pid, { pid: p.pid, what: file, recorded: false, command: describeCommand(p) })
  }
  return [...found.values()].sort((a, b) => a.pid - b.pid)
}

/**
 * Throws ERR_CLUSTER, one line, when anything of the cluster in DIR runs: which pids, and how to
 * stop them (`cluster down` for what it started, `kill` for the rest). `refusal` ends the line.
 */
export async function assertClusterStopped (dirOption: string, refusal: string): Promise<void> {
  const running = await runningClusterProcesses(dirOption)
  if (running.length === 0) return
  const dir = resolve(dirOption)
  const list = running.map((p) => `${p.pid} ${p.recorded ? p.what : `(${p.command ?? p.what})`}`).join(', ')
  const byHand = running.filter((p) => !p.recorded).map((p) => p.pid)
  const how = [
    ...(running.some((p) => p.recorded) ? [`\`ephemera cluster down --dir ${dirOption}\``] : []),
    ...(byHand.length > 0 ? [`\`kill ${byHand.join(' ')}\` (started outside \`cluster up\`)`] : [])
  ]
  throw new EphemeraError(ErrorCode.CLUSTER, `the cluster in ${dir} is running (pids ${list}); stop it first with ${how.join(' and ')}; ${refusal}`,
    { dir, pids: running.map((p) => p.pid) })
}
