import { mkdir, rm } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { isIPv4 } from 'node:net'
import { NodeKey, writeKeyFile } from '../crypto/keys.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists, writeFileAtomic } from '../util/fs.js'
import { toToml } from './toml.js'
import { writePeersFile, type Member } from './peers.js'
import { MAX_MIXNODES } from '../epochs/report.js'

/**
 * `ephemera init`: keys, configs and the peers file for a local network of N nodes.
 *
 *   DIR/.ephemera-cluster.json  marker: this directory is a network made by `init` (see ClusterMarker)
 *   DIR/peers.toml              every member: name, PeerId, multiaddr
 *   DIR/coordinator/config.toml the coordinator's config (committee = the peers file)
 *   DIR/<name>/config.toml      the node's config (relative paths)
 *   DIR/<name>/node.key         PKCS#8 PEM Ed25519 key, mode 0600
 *   DIR/<name>/data/            created by the node on first start
 *
 * Ports: the coordinator gets BASE, node k (1-based) gets BASE+2k-1 for p2p and BASE+2k for HTTP.
 */

export const DEFAULT_BASE_PORT = 7000
export const MAX_NODES = 200
export const PEERS_FILE = 'peers.toml'
export const NODE_CONFIG_FILE = 'config.toml'
export const NODE_KEY_FILE = 'node.key'
export const COORDINATOR_DIR = 'coordinator'
/** Written last by `init`: commands that delete things (`cluster clear`) only act on a directory that has it. */
export const CLUSTER_MARKER_FILE = '.ephemera-cluster.json'
export const CLUSTER_MARKER_KIND = 'ephemera-cluster'

/** The content of DIR/.ephemera-cluster.json. */
export interface ClusterMarker {
  kind: typeof CLUSTER_MARKER_KIND
  /** Version of this file's format. */
  version: 1
  createdAt: string
  app: 'rewards' | 'messages'
  /** The members' names: each has its folder DIR/<name>. */
  nodes: string[]
}

export interface InitOptions {
  nodes: number
  out: string
  basePort?: number
  host?: string
  force?: boolean
  /** What the nodes run (default rewards). */
  app?: 'rewards' | 'messages'
  /** Simulated mixnodes (nodes and coordinator agree). */
  mixnodes?: number
  environment?: 'testing' | 'development' | 'production'
  /** Overrides the environment's epoch length. */
  epochMs?: number
}

export interface InitNodeResult {
  name: string
  peerId: string
  configFile: string
  keyFile: string
  address: string
  httpUrl: string
}

export interface InitResult {
  dir: string
  markerFile: string
  peersFile: string
  coordinatorUrl: string
  coordinatorConfig: string
  nodes: InitNodeResult[]
}

export function nodeName (index: number): string {
  return `node${index + 1}`
}

export function nodePorts (basePort: number, index: number): { p2p: number, http: number } {
  return { p2p: basePort + 2 * index + 1, http: basePort + 2 * index + 2 }
}


function checkOptions (opts: InitOptions): { basePort: number, host: string } {
  const basePort = opts.basePort ?? DEFAULT_BASE_PORT
  const host = opts.host ?? '127.0.0.1'
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--nodes must be an integer from 1 to ${MAX_NODES}, got ${opts.nodes}`)
  }
  const lastPort = nodePorts(basePort, opts.nodes - 1).http
  if (!Number.isInteger(basePort) || basePort < 1024 || lastPort > 65535) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--base-port must be an integer from 1024 to ${65535 - 2 * opts.nodes} for ${opts.nodes} nodes, got ${basePort}`)
  }
  if (opts.mixnodes != null && (!Number.isInteger(opts.mixnodes) || opts.mixnodes < 1 || opts.mixnodes > MAX_MIXNODES)) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--mixnodes must be an integer from 1 to ${MAX_MIXNODES}, got ${opts.mixnodes}`)
  }
  if (!isIPv4(host)) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--host must be an IPv4 address, got "${host}"`)
  return { basePort, host }
}

export async function initNetwork (opts: InitOptions): Promise<InitResult> {
  const { basePort, host } = checkOptions(opts)
  const dir = resolve(opts.out)
  const peersFile = join(dir, PEERS_FILE)
  const names = Array.from({ length: opts.nodes }, (_, i) => nodeName(i))

  if (opts.force !== true) {
    for (const path of [peersFile, ...names.flatMap((n) => [join(dir, n, NODE_KEY_FILE), join(dir, n, NODE_CONFIG_FILE)])]) {
      if (await pathExists(path)) {
        throw new EphemeraError(ErrorCode.ALREADY_EXISTS,
          `${path} already exists; refusing to overwrite keys or configs (use --force to replace them and wipe the nodes' data)`, { path })
      }
    }
  }

  const coordinatorUrl = `http://${host}:${basePort}`
  const nodes: InitNodeResult[] = []
  const members: Member[] = []
  for (const [index, name] of names.entries()) {
    const nodeDir = join(dir, name)
    const ports = nodePorts(basePort, index)
    const key = NodeKey.generate()
    const address = `/ip4/${host}/tcp/${ports.p2p}`
    await mkdir(nodeDir, { recursive: true })
    // a new identity makes old data meaningless (and the node refuses data of another PeerId)
    if (opts.force === true) await rm(join(nodeDir, 'data'), { recursive: true, force: true })
    const keyFile = join(nodeDir, NODE_KEY_FILE)
    await writeKeyFile(keyFile, key)
    const configFile = join(nodeDir, NODE_CONFIG_FILE)
    const config = {
      name,
      key_file: NODE_KEY_FILE,
      peers_file: relative(nodeDir, peersFile),
      data_dir: 'data',
      coordinator_url: coordinatorUrl,
      app: opts.app ?? 'rewards',
      p2p: { listen: address },
      rewards: { mixnodes: opts.mixnodes ?? 100 },
      http: { host, port: ports.http },
      log: { level: 'info' }
    }
    await writeFileAtomic(configFile,
      `# ephemera node configuration, written by \`ephemera init\`. Edit freely.\n# Relative paths are relative to this file's directory. README "Configuration" lists every key.\n\n${toToml(config)}\n`)
    members.push({ name, peerId: key.peerId.toString(), address })
    nodes.push({ name, peerId: key.peerId.toString(), configFile, keyFile, address, httpUrl: `http://${host}:${ports.http}` })
  }
  await writePeersFile(peersFile, members)

  const coordinatorDir = join(dir, COORDINATOR_DIR)
  const coordinatorConfig = join(coordinatorDir, NODE_CONFIG_FILE)
  await mkdir(coordinatorDir, { recursive: true })
  if (opts.force === true) await rm(join(coordinatorDir, 'data'), { recursive: true, force: true })
  const contract = {
    name: 'coordinator',
    peers_file: relative(coordinatorDir, peersFile),
    data_dir: 'data',
    environment: opts.environment ?? 'development',
    ...(opts.epochMs != null ? { epoch_ms: opts.epochMs } : {}),
    allow_standalone: false,
    rewards: { mixnodes: opts.mixnodes ?? 100, aggregation: 'median' },
    http: { host, port: basePort },
    log: { level: 'info' }
  }
  await writeFileAtomic(coordinatorConfig,
    `# ephemera coordinator ("contract") configuration, written by \`ephemera init\`. Edit freely.\n# Relative paths are relative to this file's directory. README "Coordinator configuration" lists every key.\n\n${toToml(contract)}\n`)
  // last: the marker says the directory holds a complete network
  const markerFile = join(dir, CLUSTER_MARKER_FILE)
  const marker: ClusterMarker = { kind: CLUSTER_MARKER_KIND, version: 1, createdAt: new Date().toISOString(), app: opts.app ?? 'rewards', nodes: names }
  await writeFileAtomic(markerFile, JSON.stringify(marker, null, 2) + '\n')
  return { dir, markerFile, peersFile, coordinatorUrl, coordinatorConfig, nodes }
}
