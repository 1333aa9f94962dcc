import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadNodeConfig, loadPeersFile, type Member } from '../config/index.js'
import { initNetwork, NODE_CONFIG_FILE, PEERS_FILE } from '../config/generate.js'
import type { GroupInfo } from '../network/index.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists } from '../util/fs.js'
import { sleep } from '../util/time.js'
import { kill, processAlive, terminate } from './processes.js'
import { readClusterState, writeClusterState, type ClusterNodeState, type ClusterState } from './state.js'

export const DEFAULT_CLUSTER_DIR = '.ephemera/cluster'
export const DEFAULT_CLUSTER_NODES = 4

export interface ClusterUpOptions {
  dir: string
  /** Number of nodes; only used (and checked) when given. Default 4 for a new directory. */
  nodes?: number
  basePort?: number
  detach: boolean
  /** Deadline for every node to see all others. */
  meshTimeoutMs: number
  /** Interval of the live status poll (foreground). */
  pollMs?: number
  /** Where progress lines go. */
  print: (line: string) => void
  /** Aborted on the first Ctrl-C / SIGTERM (foreground). */
  signal?: AbortSignal
  /** Aborted on a second Ctrl-C: stop waiting for graceful exits. */
  forceSignal?: AbortSignal
}

interface NodePlan {
  member: Member
  configFile: string
  httpUrl: string
  logFile: string
}

interface Running {
  plan: NodePlan
  pid: number
  child?: ChildProcess
  exit?: string
}

/** The CLI entry this process runs from; children run the same one. */
function cliInvocation (): { command: string, args: string[] } {
  const script = process.argv[1]
  if (script == null) throw new EphemeraError(ErrorCode.CLUSTER, 'cannot locate the ephemera CLI script to start nodes with')
  return { command: process.execPath, args: [...process.execArgv, script] }
}


async function fetchGroupInfo (httpUrl: string): Promise<GroupInfo | undefined> {
  try {
    const res = await fetch(`${httpUrl}/ephemera/broadcast/group/info`, { signal: AbortSignal.timeout(1_000) })
    if (!res.ok) return undefined
    return await res.json() as GroupInfo
  } catch {
    return undefined
  }
}

function lastLogLines (file: string, count = 3): string {
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

/** Reads the node list (initialising DIR first when it has no peers file). */
async function planCluster (dir: string, opts: ClusterUpOptions): Promise<NodePlan[]> {
  const peersFile = join(dir, PEERS_FILE)
  if (!await pathExists(peersFile)) {
    const nodes = opts.nodes ?? DEFAULT_CLUSTER_NODES
    opts.print(`initialising ${nodes} nodes in ${dir}`)
    await initNetwork({ nodes, out: dir, basePort: opts.basePort })
  } else if (opts.basePort != null) {
    opts.print(`note: ${dir} is already initialised; --base-port is ignored`)
  }
  const members = await loadPeersFile(peersFile)
  if (opts.nodes != null && opts.nodes !== members.length) {
    throw new EphemeraError(ErrorCode.CLUSTER,
      `${dir} holds a ${members.length}-node network; use --nodes ${members.length}, or another --dir for ${opts.nodes} nodes`)
  }
  const plans: NodePlan[] = []
  for (const member of members) {
    const configFile = join(dir, member.name, NODE_CONFIG_FILE)
    const config = await loadNodeConfig(configFile)
    if (config.http.port === 0) throw new EphemeraError(ErrorCode.CLUSTER, `${configFile}: http.port must be fixed (not 0) in a cluster`)
    plans.push({ member, configFile, httpUrl: `http://${config.http.host}:${config.http.port}`, logFile: join(dir, 'logs', `${member.name}.log`) })
  }
  return plans
}

function startNode (plan: NodePlan, withIpc: boolean): Running {
  const { command, args } = cliInvocation()
  const fd = openSync(plan.logFile, 'a')
  try {
    const child = spawn(command, [...args, 'node', 'run', '--config', plan.configFile], {
      // own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the
      // nodes in order; with the IPC channel a node also stops if the supervisor dies
      detached: true,
      stdio: withIpc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' }
    })
    if (child.pid == null) throw new EphemeraError(ErrorCode.CLUSTER, `could not start ${plan.member.name}`)
    if (!withIpc) child.unref()
    const running: Running = { plan, pid: child.pid, child }
    child.on('exit', (code, sig) => { running.exit = sig != null ? `killed by ${sig}` : `exit code ${String(code)}` })
    return running
  } finally {
    closeSync(fd)
  }
}

function stateFor (dir: string, mode: ClusterState['mode'], status: ClusterState['status'], nodes: Running[]): Omit<ClusterState, 'updatedAt' | 'version'> {
  return {
    dir,
    status,
    mode,
    supervisorPid: mode === 'foreground' && status === 'running' ? process.pid : null,
    nodes: nodes.map((r): ClusterNodeState => ({
      name: r.plan.member.name,
      peerId: r.plan.member.peerId,
      pid: r.pid,
      httpUrl: r.plan.httpUrl,
      multiaddr: `${r.plan.member.address}/p2p/${r.plan.member.peerId}`,
      configFile: r.plan.configFile,
      logFile: r.plan.logFile,
      startedAt: new Date().toISOString()
    }))
  }
}

function alive (r: Running): boolean {
  return r.exit == null && processAlive(r.pid, r.plan.configFile)
}

/** One status word per node: connected members out of n−1, or why it is not up. */
async function meshSnapshot (nodes: Running[]): Promise<{ line: string, complete: boolean }> {
  const n = nodes.length
  const parts = await Promise.all(nodes.map(async (r) => {
    if (!alive(r)) return { text: `${r.plan.member.name} down${r.exit != null ? ` (${r.exit})` : ''}`, ok: false }
    const info = await fetchGroupInfo(r.plan.httpUrl)
    if (info == null) return { text: `${r.plan.member.name} starting`, ok: false }
    const connected = info.members.filter((m) => !m.self && m.connected).length
    return { text: `${r.plan.member.name} ${connected}/${n - 1}`, ok: connected === n - 1 }
  }))
  return { line: parts.map((p) => p.text).join(', '), complete: parts.every((p) => p.ok) }
}

async function stopNodes (nodes: Running[], opts: ClusterUpOptions): Promise<void> {
  const targets = nodes.filter(alive).map((r) => ({ pid: r.pid, marker: r.plan.configFile }))
  if (targets.length === 0) return
  opts.print(`stopping ${targets.length} node${targets.length === 1 ? '' : 's'}...`)
  const onForce = (): void => { for (const t of targets) kill(t.pid) }
  opts.forceSignal?.addEventListener('abort', onForce, { once: true })
  try {
    const killed = await terminate(targets)
    opts.print(`stopped ${targets.length} node${targets.length === 1 ? '' : 's'}${killed > 0 ? ` (${killed} needed SIGKILL)` : ''}`)
  } finally {
    opts.forceSignal?.removeEventListener('abort', onForce)
  }
}

/**
 * `ephemera cluster up`: initialise DIR if needed, start one `ephemera node run` child per
 * member, write DIR/cluster.json, show progress until every node sees all others, then either
 * return (detached: the nodes keep running) or show live status until the signal aborts and stop
 * every child. Returns the process exit code.
 */
export async function clusterUp (opts: ClusterUpOptions): Promise<number> {
  const dir = resolve(opts.dir)
  await mkdir(join(dir, 'logs'), { recursive: true })
  const previous = await readClusterState(dir)
  const adopted = new Map<string, number>()
  if (previous?.status === 'running') {
    if (previous.supervisorPid != null && processAlive(previous.supervisorPid)) {
      throw new EphemeraError(ErrorCode.CLUSTER, `a cluster in ${dir} is already running under supervisor pid ${previous.supervisorPid}; stop it with Ctrl-C there or \`ephemera cluster down --dir ${opts.dir}\``)
    }
    for (const node of previous.nodes) {
      if (node.pid != null && processAlive(node.pid, node.configFile)) adopted.set(node.name, node.pid)
    }
    if (adopted.size > 0 && !opts.detach) {
      throw new EphemeraError(ErrorCode.CLUSTER,
        `${adopted.size} node(s) of a detached cluster in ${dir} are still running; run \`ephemera cluster down --dir ${opts.dir}\` first, or \`ephemera cluster up --detach --dir ${opts.dir}\` to start only the missing ones`)
    }
  }

  const aborted = (): boolean => opts.signal?.aborted === true
  const plans = await planCluster(dir, opts)
  const mode: ClusterState['mode'] = opts.detach ? 'detached' : 'foreground'
  const nodes: Running[] = []
  const started = Date.now()
  try {
    for (const plan of plans) {
      const pid = adopted.get(plan.member.name)
      if (pid != null) {
        nodes.push({ plan, pid })
        opts.print(`${plan.member.name} already running (pid ${pid})`)
      } else {
        const running = startNode(plan, !opts.detach)
        nodes.push(running)
        opts.print(`started ${plan.member.name} (pid ${running.pid}) p2p ${plan.member.address} http ${plan.httpUrl} log ${plan.logFile}`)
      }
    }
    await writeClusterState(dir, stateFor(dir, mode, 'running', nodes))

    // progress until the full mesh forms
    let lastLine = ''
    const deadline = started + opts.meshTimeoutMs
    for (;;) {
      if (aborted()) {
        await stopNodes(nodes, opts)
        await writeClusterState(dir, stateFor(dir, mode, 'stopped', nodes))
        return 130
      }
      const dead = nodes.find((r) => !alive(r))
      if (dead != null) {
        throw new EphemeraError(ErrorCode.CLUSTER, `${dead.plan.member.name} exited during start-up (${dead.exit ?? 'not running'}): ${lastLogLines(dead.plan.logFile)} [log: ${dead.plan.logFile}]`)
      }
      const snapshot = await meshSnapshot(nodes)
      if (snapshot.line !== lastLine) {
        opts.print(`waiting for mesh: ${snapshot.line}`)
        lastLine = snapshot.line
      }
      if (snapshot.complete) break
      if (Date.now() > deadline) {
        throw new EphemeraError(ErrorCode.CLUSTER, `the mesh did not form within ${Math.round(opts.meshTimeoutMs / 1000)} s (${snapshot.line}); see the logs in ${join(dir, 'logs')}`)
      }
      await sleep(250)
    }
    opts.print(`mesh formed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${nodes.length} nodes, each connected to ${nodes.length - 1} members`)
  } catch (err) {
    // never leave orphans behind a failed start
    await stopNodes(nodes, opts)
    await writeClusterState(dir, stateFor(dir, mode, 'stopped', nodes)).catch(() => {})
    throw err
  }

  if (opts.detach) {
    opts.print(`cluster running in the background; state in ${join(dir, 'cluster.json')}`)
    opts.print(`stop it with: ephemera cluster down --dir ${opts.dir}`)
    return 0
  }

  opts.print('live status (Ctrl-C stops every node):')
  let lastLine = ''
  while (!aborted()) {
    const snapshot = await meshSnapshot(nodes)
    if (snapshot.line !== lastLine) {
      opts.print(`${new Date().toISOString().slice(11, 19)} ${snapshot.complete ? 'full mesh' : 'degraded'}: ${snapshot.line}`)
      lastLine = snapshot.line
    }
    try {
      await sleep(opts.pollMs ?? 1_000, opts.signal)
    } catch {
      break
    }
  }
  await stopNodes(nodes, opts)
  await writeClusterState(dir, stateFor(dir, mode, 'stopped', nodes))
  return 0
}

/** `ephemera cluster down`: stops the supervisor (if any) and every node recorded in cluster.json. */
export async function clusterDown (dirOption: string, print: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption)
  const state = await readClusterState(dir)
  if (state == null) throw new EphemeraError(ErrorCode.CLUSTER, `no cluster state in ${dir} (no cluster.json): nothing to stop`)
  const targets: Array<{ pid: number, marker?: string }> = []
  if (state.supervisorPid != null && processAlive(state.supervisorPid)) {
    print(`stopping supervisor (pid ${state.supervisorPid})`)
    targets.push({ pid: state.supervisorPid })
  }
  for (const node of state.nodes) {
    if (node.pid != null && processAlive(node.pid, node.configFile)) targets.push({ pid: node.pid, marker: node.configFile })
  }
  if (targets.length === 0) {
    print('nothing was running')
  } else {
    const killed = await terminate(targets, 15_000)
    print(`stopped ${targets.length} process${targets.length === 1 ? '' : 'es'}${killed > 0 ? ` (${killed} needed SIGKILL)` : ''}`)
  }
  await writeClusterState(dir, { ...state, status: 'stopped', supervisorPid: null })
  return 0
}

export interface ClusterNodeStatus {
  name: string
  pid: number | null
  running: boolean
  httpUrl: string
  connected: number | null
  members: number
}

/** `ephemera cluster status`: per node, whether its process is up and how many members it sees. */
export async function clusterStatus (dirOption: string): Promise<{ dir: string, status: string, nodes: ClusterNodeStatus[] }> {
  const dir = resolve(dirOption)
  const state = await readClusterState(dir)
  if (state == null) throw new EphemeraError(ErrorCode.CLUSTER, `no cluster state in ${dir} (no cluster.json); start one with \`ephemera cluster up --dir ${dirOption}\``)
  const nodes = await Promise.all(state.nodes.map(async (node): Promise<ClusterNodeStatus> => {
    const running = node.pid != null && processAlive(node.pid, node.configFile)
    const info = running ? await fetchGroupInfo(node.httpUrl) : undefined
    return {
      name: node.name,
      pid: running ? node.pid : null,
      running,
      httpUrl: node.httpUrl,
      connected: info == null ? null : info.members.filter((m) => !m.self && m.connected).length,
      members: state.nodes.length
    }
  }))
  return { dir, status: state.status, nodes }
}


/**
 * `ephemera cluster clear`: deletes the nodes' data directories, logs and cluster.json, keeping
 * keys and configs (or, with `all`, the whole cluster directory). Refuses while anything runs.
 */
export async function clusterClear (dirOption: string, all: boolean, print: (line: string) => void): Promise<number> {
  const dir = resolve(dirOption)
  const state = await readClusterState(dir)
  if (state != null) {
    const running = [state.supervisorPid, ...state.nodes.map((n) => n.pid)].filter((pid): pid is number => pid != null && processAlive(pid))
    if (running.length > 0) throw new EphemeraError(ErrorCode.CLUSTER, `the cluster in ${dir} is running (pids ${running.join(', ')}); stop it first with \`ephemera cluster down --dir ${dirOption}\``)
  }
  if (all) {
    await rm(dir, { recursive: true, force: true })
    print(`removed ${dir}`)
    return 0
  }
  const peersFile = join(dir, PEERS_FILE)
  const members = await pathExists(peersFile) ? await loadPeersFile(peersFile) : []
  for (const member of members) {
    const config = await loadNodeConfig(join(dir, member.name, NODE_CONFIG_FILE)).catch(() => undefined)
    if (config != null) await rm(config.data_dir, { recursive: true, force: true })
  }
  await rm(join(dir, 'logs'), { recursive: true, force: true })
  await rm(join(dir, 'cluster.json'), { force: true })
  print(`cleared data and logs of ${members.length} node${members.length === 1 ? '' : 's'} in ${dir} (keys and configs kept)`)
  return 0
}
