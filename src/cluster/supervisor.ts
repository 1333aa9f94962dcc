import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DEFAULT_CLUSTER_NODES, initPorts, isInitialised, planCluster, type ProcessPlan } from './plan.js'
import { lastLogLines, processState, startProcess } from './launch.js'
import { EpochReporter } from './progress.js'
import { tryGetJson } from './http.js'
import type { GroupInfo } from '../network/index.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { sleep } from '../util/time.js'
import { alive, coordinatorAnswer, pollMesh, type Running } from './mesh.js'
import { defaultMeshTimeoutMs, MeshProgress } from './mesh-progress.js'
import { checkForeignProcesses, preflight } from './preflight.js'
import { kill, processAlive, terminate } from './processes.js'
import { assertPortsFree } from './ports.js'
import { DEFAULT_CLUSTER_DIR } from './running.js'
import { readClusterState, writeClusterState, type ClusterState } from './state.js'

export { DEFAULT_CLUSTER_DIR, DEFAULT_CLUSTER_NODES }

/** A node's answer counts towards a complete mesh for this long (it may miss polls while busy). */
const ANSWER_FRESH_MS = 10_000

export interface ClusterUpOptions {
  dir: string
  /** Number of nodes; only used (and checked) when given. Default 4 for a new directory. */
  nodes?: number
  basePort?: number
  /** For a new directory: what the nodes run (default rewards, with a coordinator). */
  app?: 'rewards' | 'messages'
  environment?: 'testing' | 'development' | 'production'
  /** Epoch length override (coordinator). */
  epochSeconds?: number
  /** Simulated mixnodes override (coordinator and nodes). */
  mixnodes?: number
  detach: boolean
  /** Deadline for every node to see all others (default: defaultMeshTimeoutMs of the node count). */
  meshTimeoutMs?: number
  /** Interval of the live status poll (foreground). */
  pollMs?: number
  /** Where progress lines go. */
  print: (line: string) => void
  /** Aborted on the first Ctrl-C / SIGTERM (foreground). */
  signal?: AbortSignal
  /** Aborted on a second Ctrl-C: stop waiting for graceful exits. */
  forceSignal?: AbortSignal
}

async function fetchGroupInfo (httpUrl: string): Promise<GroupInfo | undefined> {
  return await tryGetJson<GroupInfo>(`${httpUrl}/ephemera/broadcast/group/info`)
}

function stateFor (dir: string, mode: ClusterState['mode'], status: ClusterState['status'], coordinator: Running | undefined, nodes: Running[]): Omit<ClusterState, 'updatedAt' | 'version'> {
  return {
    dir,
    status,
    mode,
    supervisorPid: mode === 'foreground' && status === 'running' ? process.pid : null,
    coordinator: coordinator == null ? null : processState(coordinator),
    nodes: nodes.map(processState)
  }
}

/** Stops processes in the given order (nodes before the coordinator that they report to). */
async function stopProcesses (processes: Running[], opts: ClusterUpOptions): Promise<void> {
  const live = processes.filter(alive)
  if (live.length === 0) return
  opts.print(`stopping ${live.length} process${live.length === 1 ? '' : 'es'}...`)
  const targets = live.map((r) => ({ pid: r.pid, marker: r.plan.configFile }))
  const onForce = (): void => { for (const t of targets) kill(t.pid) }
  opts.forceSignal?.addEventListener('abort', onForce, { once: true })
  try {
    const nodes = targets.filter((_, i) => live[i]?.plan.role === 'node')
    const rest = targets.filter((_, i) => live[i]?.plan.role !== 'node')
    const killed = await terminate(nodes) + await terminate(rest)
    opts.print(`stopped ${targets.length} process${targets.length === 1 ? '' : 'es'}${killed > 0 ? ` (${killed} needed SIGKILL)` : ''}`)
  } finally {
    opts.forceSignal?.removeEventListener('abort', onForce)
  }
}

/**
 * `ephemera cluster up`: initialise DIR if needed, check that nothing stands in the way (other
 * processes of DIR, ports taken, an epoch length the coordinator's data was not made with), start
 * one `ephemera node run` child per member, write DIR/cluster.json, show progress until every
 * node (its own process, not whatever answers on its address) sees all others, then either return
 * (detached: the nodes keep running) or show live status until the signal aborts and stop every
 * child. Returns the process exit code.
 */
export async function clusterUp (opts: ClusterUpOptions): Promise<number> {
  const dir = resolve(opts.dir)
  const previous = await readClusterState(dir)
  const adopted = new Map<string, number>()
  // whatever the recorded status, processes still alive (checked by pid and command line) are adopted
  if (previous != null) {
    if (previous.supervisorPid != null && processAlive(previous.supervisorPid, 'cluster')) {
      throw new EphemeraError(ErrorCode.CLUSTER, `a cluster in ${dir} is already running under supervisor pid ${previous.supervisorPid}; stop it with Ctrl-C there or \`ephemera cluster down --dir ${opts.dir}\``)
    }
    for (const node of [...previous.nodes, ...(previous.coordinator != null ? [previous.coordinator] : [])]) {
      if (node.pid != null && processAlive(node.pid, node.configFile)) adopted.set(node.name, node.pid)
    }
    if (adopted.size > 0 && !opts.detach) {
      throw new EphemeraError(ErrorCode.CLUSTER,
        `${adopted.size} node(s) of a detached cluster in ${dir} are still running; run \`ephemera cluster down --dir ${opts.dir}\` first, or \`ephemera cluster up --detach --dir ${opts.dir}\` to start only the missing ones`)
    }
  }

  // before anything is written or started: another `cluster up`, or processes started by hand
  await checkForeignProcesses(dir, opts.dir, new Set(adopted.values()))
  if (!await isInitialised(dir)) {
    await assertPortsFree(initPorts(opts), 'stop what holds them, or choose another --base-port; nothing was written')
  }

  const aborted = (): boolean => opts.signal?.aborted === true
  const plan = await planCluster(dir, opts)
  await preflight(plan, adopted, opts)
  await mkdir(join(dir, 'logs'), { recursive: true })
  const mode: ClusterState['mode'] = opts.detach ? 'detached' : 'foreground'
  let coordinator: Running | undefined
  const nodes: Running[] = []
  const all = (): Running[] => [...nodes, ...(coordinator == null ? [] : [coordinator])]
  const started = Date.now()
  const launch = (p: ProcessPlan): Running => {
    const pid = adopted.get(p.name)
    if (pid != null) {
      opts.print(`${p.name} already running (pid ${pid})`)
      return { plan: p, pid }
    }
    const running = startProcess(p, !opts.detach)
    opts.print(`started ${p.name} (pid ${running.pid})${p.address != null ? ` p2p ${p.address}` : ''} http ${p.httpUrl} log ${p.logFile}`)
    return running
  }
  try {
    // the coordinator first: nodes ask it for the epoch clock as they start
    if (plan.coordinator != null) coordinator = launch(plan.coordinator)
    for (const p of plan.nodes) nodes.push(launch(p))
    await writeClusterState(dir, stateFor(dir, mode, 'running', coordinator, nodes))

    // progress until the full mesh forms (and the coordinator answers)
    let lastLine = ''
    const meshTimeoutMs = opts.meshTimeoutMs ?? defaultMeshTimeoutMs(nodes.length)
    const deadline = started + meshTimeoutMs
    const progress = new MeshProgress(nodes.map((n) => n.plan.name), { freshMs: ANSWER_FRESH_MS })
    for (;;) {
      if (aborted()) {
        await stopProcesses(all(), opts)
        await writeClusterState(dir, stateFor(dir, mode, 'stopped', coordinator, nodes))
        return 130
      }
      const dead = all().find((r) => !alive(r))
      if (dead != null) {
        throw new EphemeraError(ErrorCode.CLUSTER, `${dead.plan.name} exited during start-up (${dead.exit ?? 'not running'}): ${lastLogLines(dead.plan)} [log: ${dead.plan.logFile}]`)
      }
      const [nodesForeign, coordinatorState] = await Promise.all([pollMesh(nodes, progress, Date.now), coordinator == null ? undefined : coordinatorAnswer(coordinator)])
      // another cluster on these ports answers for a process of ours: that is no progress
      const foreign = [...nodesForeign, ...(coordinatorState?.foreign == null ? [] : [coordinatorState.foreign])]
      if (foreign.length > 0) {
        throw new EphemeraError(ErrorCode.CLUSTER, `${foreign.join('; ')}: another process (another cluster on the same ports?) answers on this cluster's address; stop it, or give this cluster other ports`)
      }
      const coordinatorReady = coordinatorState?.ok ?? true
      const now = Date.now()
      const line = `${progress.line(now)}${coordinatorState == null ? '' : `, ${coordinatorState.text}`}`
      if (line !== lastLine) {
        opts.print(`waiting for mesh (${((now - started) / 1000).toFixed(1)} s): ${line}`)
        lastLine = line
      }
      if (progress.complete(now) && coordinatorReady) break
      if (now > deadline) {
        throw new EphemeraError(ErrorCode.CLUSTER, `the mesh did not form within ${Math.round(meshTimeoutMs / 1000)} s (${line}); see the logs in ${join(dir, 'logs')}`)
      }
      await sleep(250)
    }
    opts.print(`mesh formed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${nodes.length} nodes, each connected to ${nodes.length - 1} members${coordinator != null ? `; coordinator at ${coordinator.plan.httpUrl}` : ''}`)
  } catch (err) {
    // never leave orphans behind a failed start; processes of an earlier run that were only
    // adopted keep running
    await stopProcesses(all().filter((r) => r.child != null), opts)
    const stillRunning = all().some(alive)
    await writeClusterState(dir, stateFor(dir, mode, stillRunning ? 'running' : 'stopped', coordinator, nodes)).catch(() => {})
    throw err
  }

  if (opts.detach) {
    opts.print(`cluster running in the background; state in ${join(dir, 'cluster.json')}`)
    opts.print(`stop it with: ephemera cluster down --dir ${opts.dir}`)
    return 0
  }

  opts.print(`live status (Ctrl-C stops every process)${coordinator != null ? ': one line per epoch' : ''}`)
  const epochs = coordinator == null ? undefined : new EpochReporter(coordinator.plan.httpUrl, nodes.map((n) => ({ name: n.plan.name, httpUrl: n.plan.httpUrl })), opts.print)
  let lastLine = ''
  const live = new MeshProgress(nodes.map((n) => n.plan.name), { freshMs: ANSWER_FRESH_MS })
  while (!aborted()) {
    await pollMesh(nodes, live, Date.now)
    const now = Date.now()
    const down = coordinator != null && !alive(coordinator) ? `, coordinator down${coordinator.exit != null ? ` (${coordinator.exit})` : ''}` : ''
    const complete = live.complete(now)
    const line = `${complete ? 'full mesh' : 'degraded'}: ${live.line(now)}${down}`
    if (line !== lastLine) {
      // the first full-mesh line was printed above; repeat only changes
      if (lastLine !== '' || !complete || down !== '') opts.print(`${new Date().toISOString().slice(11, 19)} ${line}`)
      lastLine = line
    }
    await epochs?.poll()
    try {
      await sleep(opts.pollMs ?? 1_000, opts.signal)
    } catch {
      break
    }
  }
  await stopProcesses(all(), opts)
  await writeClusterState(dir, stateFor(dir, mode, 'stopped', coordinator, nodes))
  return 0
}

/** `ephemera cluster down`: stops the supervisor (if any) and every node recorded in cluster.json. */
export async function clusterDown (dirOption: string, print: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption)
  const state = await readClusterState(dir)
  if (state == null) throw new EphemeraError(ErrorCode.CLUSTER, `no cluster state in ${dir} (no cluster.json): nothing to stop`)
  const targets: Array<{ pid: number, marker?: string }> = []
  if (state.supervisorPid != null && processAlive(state.supervisorPid, 'cluster')) {
    print(`stopping supervisor (pid ${state.supervisorPid})`)
    targets.push({ pid: state.supervisorPid, marker: 'cluster' })
  }
  const nodeTargets: Array<{ pid: number, marker?: string }> = []
  for (const node of state.nodes) {
    if (node.pid != null && processAlive(node.pid, node.configFile)) nodeTargets.push({ pid: node.pid, marker: node.configFile })
  }
  const coordinator = state.coordinator
  const coordinatorTargets = coordinator?.pid != null && processAlive(coordinator.pid, coordinator.configFile) ? [{ pid: coordinator.pid, marker: coordinator.configFile }] : []
  const total = targets.length + nodeTargets.length + coordinatorTargets.length
  if (total === 0) {
    print('nothing was running')
  } else {
    // the supervisor stops its children itself; then nodes, then the coordinator they report to
    const killed = await terminate(targets, 15_000) + await terminate(nodeTargets, 15_000) + await terminate(coordinatorTargets, 15_000)
    print(`stopped ${total} process${total === 1 ? '' : 'es'}${killed > 0 ? ` (${killed} needed SIGKILL)` : ''}`)
  }
  await writeClusterState(dir, { ...state, status: 'stopped', supervisorPid: null })
  return 0
}

export interface ClusterNodeStatus {
  name: string
  role: 'node' | 'coordinator'
  pid: number | null
  running: boolean
  httpUrl: string
  /** Members connected (nodes), or null when it does not answer. */
  connected: number | null
  members: number
  /** Coordinator: the current epoch; node: its last committed epoch. */
  epoch: number | null
}

/** `ephemera cluster status`: per process, whether it is up, and what it sees. */
export async function clusterStatus (dirOption: string): Promise<{ dir: string, status: string, nodes: ClusterNodeStatus[] }> {
  const dir = resolve(dirOption)
  const state = await readClusterState(dir)
  if (state == null) throw new EphemeraError(ErrorCode.CLUSTER, `no cluster state in ${dir} (no cluster.json); start one with \`ephemera cluster up --dir ${dirOption}\``)
  const nodes = await Promise.all(state.nodes.map(async (node): Promise<ClusterNodeStatus> => {
    const running = node.pid != null && processAlive(node.pid, node.configFile)
    const info = running ? await fetchGroupInfo(node.httpUrl) : undefined
    const rewards = running ? await tryGetJson<{ recent: Array<{ epoch: number, state: string }> }>(`${node.httpUrl}/ephemera/rewards/status`) : undefined
    return {
      name: node.name,
      role: 'node',
      pid: running ? node.pid : null,
      running,
      httpUrl: node.httpUrl,
      connected: info == null ? null : info.members.filter((m) => !m.self && m.connected).length,
      members: state.nodes.length,
      epoch: rewards?.recent.find((r) => r.state === 'committed')?.epoch ?? null
    }
  }))
  const c = state.coordinator
  if (c != null) {
    const running = c.pid != null && processAlive(c.pid, c.configFile)
    const health = running ? await tryGetJson<{ epoch: number }>(`${c.httpUrl}/contract/health`) : undefined
    nodes.unshift({ name: c.name, role: 'coordinator', pid: running ? c.pid : null, running, httpUrl: c.httpUrl, connected: null, members: state.nodes.length, epoch: health?.epoch ?? null })
  }
  return { dir, status: state.status, nodes }
}
