import { join } from 'node:path'
import { loadContractConfig, loadNodeConfig, loadPeersFile } from '../config/index.js'
import { COORDINATOR_DIR, DEFAULT_BASE_PORT, initNetwork, nodeName, nodePorts, NODE_CONFIG_FILE, PEERS_FILE } from '../config/generate.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists } from '../util/fs.js'
import { multiaddrPort, type PortUse } from './ports.js'

/** One process of a local cluster: what to run and where its state and log go. */
export interface ProcessPlan {
  role: 'node' | 'coordinator'
  name: string
  peerId: string | null
  /** The node's p2p multiaddr (null for the coordinator). */
  address: string | null
  configFile: string
  httpUrl: string
  logFile: string
  /** CLI arguments after the script. */
  args: string[]
  /** The TCP ports it will listen on (p2p and HTTP for a node, HTTP for the coordinator). */
  ports: PortUse[]
}

export interface ClusterPlan {
  coordinator: ProcessPlan | null
  nodes: ProcessPlan[]
}

export interface PlanOptions {
  nodes?: number
  basePort?: number
  app?: 'rewards' | 'messages'
  mixnodes?: number
  epochSeconds?: number
  environment?: 'testing' | 'development' | 'production'
  print: (line: string) => void
}

export const DEFAULT_CLUSTER_NODES = 4

/** Whether DIR already holds a network (its peers file); otherwise `planCluster` initialises it. */
export async function isInitialised (dir: string): Promise<boolean> {
  return await pathExists(join(dir, PEERS_FILE))
}

/** The ports `init` would give a new DIR with these options (the coordinator's only for a rewards network). */
export function initPorts (opts: Pick<PlanOptions, 'nodes' | 'basePort' | 'app'>): PortUse[] {
  const base = opts.basePort ?? DEFAULT_BASE_PORT
  const host = '127.0.0.1'
  const uses: PortUse[] = (opts.app ?? 'rewards') === 'rewards' ? [{ host, port: base, what: 'coordinator http' }] : []
  for (let i = 0; i < (opts.nodes ?? DEFAULT_CLUSTER_NODES); i++) {
    const ports = nodePorts(base, i)
    uses.push({ host, port: ports.p2p, what: `${nodeName(i)} p2p` }, { host, port: ports.http, what: `${nodeName(i)} http` })
  }
  return uses
}

/**
 * Reads DIR (initialising it first when it has no peers file) into process plans: the
 * coordinator (when the nodes run the rewards application) and one node per member. --mixnodes
 * and --epoch-seconds apply to an existing DIR too, as flags of the processes.
 */
export async function planCluster (dir: string, opts: PlanOptions): Promise<ClusterPlan> {
  const peersFile = join(dir, PEERS_FILE)
  if (!await isInitialised(dir)) {
    const nodes = opts.nodes ?? DEFAULT_CLUSTER_NODES
    opts.print(`initialising ${nodes} nodes in ${dir}`)
    await initNetwork({
      nodes, out: dir, basePort: opts.basePort, app: opts.app, mixnodes: opts.mixnodes, environment: opts.environment,
      epochMs: opts.epochSeconds == null ? undefined : opts.epochSeconds * 1000
    })
  } else {
    for (const [flag, value] of [['--base-port', opts.basePort], ['--app', opts.app], ['--environment', opts.environment]] as const) {
      if (value != null) opts.print(`note: ${dir} is already initialised; ${flag} is ignored`)
    }
  }
  const members = await loadPeersFile(peersFile)
  if (opts.nodes != null && opts.nodes !== members.length) {
    throw new EphemeraError(ErrorCode.CLUSTER, `${dir} holds a ${members.length}-node network; use --nodes ${members.length}, or another --dir for ${opts.nodes} nodes`)
  }
  const mixnodeFlags = opts.mixnodes == null ? [] : ['--set', `rewards.mixnodes=${opts.mixnodes}`]
  const nodes: ProcessPlan[] = []
  let rewards = false
  for (const member of members) {
    const configFile = join(dir, member.name, NODE_CONFIG_FILE)
    const config = await loadNodeConfig(configFile)
    if (config.http.port === 0) throw new EphemeraError(ErrorCode.CLUSTER, `${configFile}: http.port must be fixed (not 0) in a cluster`)
    rewards ||= config.app === 'rewards'
    const p2p = multiaddrPort(config.p2p.listen)
    nodes.push({
      role: 'node',
      name: member.name,
      peerId: member.peerId,
      address: member.address,
      configFile,
      httpUrl: `http://${config.http.host}:${config.http.port}`,
      logFile: join(dir, 'logs', `${member.name}.log`),
      args: ['node', 'run', '--config', configFile, ...mixnodeFlags],
      ports: [
        ...(p2p == null ? [] : [{ ...p2p, what: `${member.name} p2p` }]),
        { host: config.http.host, port: config.http.port, what: `${member.name} http` }
      ]
    })
  }
  let coordinator: ProcessPlan | null = null
  if (rewards) {
    const configFile = join(dir, COORDINATOR_DIR, NODE_CONFIG_FILE)
    const config = await loadContractConfig(configFile)
    if (config.http.port === 0) throw new EphemeraError(ErrorCode.CLUSTER, `${configFile}: http.port must be fixed (not 0) in a cluster`)
    coordinator = {
      role: 'coordinator',
      name: 'coordinator',
      peerId: null,
      address: null,
      configFile,
      httpUrl: `http://${config.http.host}:${config.http.port}`,
      logFile: join(dir, 'logs', 'coordinator.log'),
      args: ['contract', 'run', '--config', configFile, ...mixnodeFlags, ...(opts.epochSeconds == null ? [] : ['--epoch-ms', String(opts.epochSeconds * 1000)])],
      ports: [{ host: config.http.host, port: config.http.port, what: 'coordinator http' }]
    }
  }
  return { coordinator, nodes }
}
