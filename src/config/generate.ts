import { mkdir, rm } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { isIPv4 } from 'node:net'
import { NodeKey, writeKeyFile } from '../crypto/keys.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists, writeFileAtomic } from '../util/fs.js'
import { toHex } from '../codec/bytes.js'
import { toToml } from './toml.js'
import { writePeersFile, type Member } from './peers.js'
import { nameField, tcpMultiaddrField } from './fields.js'
import { MAX_MIXNODES } from '../epochs/report.js'
import type { CommitteeJson } from '../epochs/record.js'

/**
 * `ephemera init`: keys, configs and the peers file for a network of N nodes (one machine or several).
 *
 *   DIR/.ephemera-cluster.json  marker: this directory is a network made by `init` (see ClusterMarker)
 *   DIR/peers.toml              every member: name, PeerId, multiaddr
 *   DIR/coordinator/config.toml the coordinator's config (committee = the peers file)
 *   DIR/coordinator/admin.key   the operator's key (mode 0600): lock, unlock, ban, unban; its
 *                               public key is membership.admin_public_key in the config above
 *   DIR/<name>/config.toml      the node's config (relative paths)
 *   DIR/<name>/node.key         PKCS#8 PEM Ed25519 key, mode 0600
 *   DIR/<name>/data/            created by the node on first start
 *
 * Ports: the coordinator gets BASE, node k (1-based) gets BASE+2k-1 for p2p and BASE+2k for HTTP.
 * Addresses: one host for everything (`host`, loopback by default), or one per node (`nodeHosts`,
 * separate machines) and the coordinator's (`coordinatorHost`). Ports are numbered per host: the
 * j-th node on a host gets BASE+2j-1 and BASE+2j, so nodes on separate hosts all get BASE+1/BASE+2.
 */

export const DEFAULT_BASE_PORT = 7000
export const MAX_NODES = 200
export const PEERS_FILE = 'peers.toml'
export const NODE_CONFIG_FILE = 'config.toml'
export const NODE_KEY_FILE = 'node.key'
export const COORDINATOR_DIR = 'coordinator'
/** The operator's key, in the coordinator's folder (`ephemera contract lock|unlock|ban|unban --admin-key`). */
export const ADMIN_KEY_FILE = 'admin.key'
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
  /** Default address of the coordinator and of every node (default 127.0.0.1). */
  host?: string
  /** Node k's address (listen and peers file, p2p and HTTP): one per node, for nodes on separate machines. */
  nodeHosts?: readonly string[]
  /** The coordinator's address (its http.host, the nodes' coordinator_url); default `host`. */
  coordinatorHost?: string
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
  /** The operator's key file (mode 0600) and its public key (hex), set as membership.admin_public_key. */
  adminKeyFile: string
  adminPublicKey: string
  nodes: InitNodeResult[]
}

export function nodeName (index: number): string {
  return `node${index + 1}`
}

export function nodePorts (basePort: number, index: number): { p2p: number, http: number } {
  return { p2p: basePort + 2 * index + 1, http: basePort + 2 * index + 2 }
}

/** Refuses to overwrite keys or configs (without --force). */
async function refuseExisting (paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    if (await pathExists(path)) {
      throw new EphemeraError(ErrorCode.ALREADY_EXISTS,
        `${path} already exists; refusing to overwrite keys or configs (use --force to replace them and wipe the nodes' data)`, { path })
    }
  }
}

interface NodeFilesOptions {
  nodeDir: string
  name: string
  peersFile: string
  coordinatorUrl: string
  app: 'rewards' | 'messages'
  host: string
  p2pPort: number
  httpPort: number
  mixnodes: number
  force: boolean
}

/** One node's key (new identity, mode 0600) and config, in the format `ephemera node run` loads (relative paths). */
async function writeNodeFiles (o: NodeFilesOptions): Promise<InitNodeResult> {
  const key = NodeKey.generate()
  const address = `/ip4/${o.host}/tcp/${o.p2pPort}`
  await mkdir(o.nodeDir, { recursive: true })
  // a new identity makes old data meaningless (and the node refuses data of another PeerId)
  if (o.force) await rm(join(o.nodeDir, 'data'), { recursive: true, force: true })
  const keyFile = join(o.nodeDir, NODE_KEY_FILE)
  await writeKeyFile(keyFile, key)
  const configFile = join(o.nodeDir, NODE_CONFIG_FILE)
  const config = {
    name: o.name,
    key_file: NODE_KEY_FILE,
    peers_file: relative(o.nodeDir, o.peersFile),
    data_dir: 'data',
    coordinator_url: o.coordinatorUrl,
    app: o.app,
    p2p: { listen: address },
    rewards: { mixnodes: o.mixnodes },
    http: { host: o.host, port: o.httpPort },
    log: { level: 'info' }
  }
  await writeFileAtomic(configFile,
    `# ephemera node configuration, written by \`ephemera init\`. Edit freely.\n# Relative paths are relative to this file's directory. README "Configuration" lists every key.\n\n${toToml(config)}\n`)
  return { name: o.name, peerId: key.peerId.toString(), configFile, keyFile, address, httpUrl: `http://${o.host}:${o.httpPort}` }
}

/** An IPv4 address others can reach: 0.0.0.0 is an address to listen on, never one to advertise. */
function checkHost (flag: string, host: string): string {
  if (!isIPv4(host)) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `${flag} must be an IPv4 address, got "${host}"`)
  if (host === '0.0.0.0') throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `${flag} 0.0.0.0 is an address to listen on, not one others can dial: give the machine's reachable address`)
  return host
}

/** Each node's index among the nodes on its host (0-based): its port pair is nodePorts(base, slot). */
export function hostSlots (hosts: readonly string[]): number[] {
  const seen = new Map<string, number>()
  return hosts.map((host) => {
    const slot = seen.get(host) ?? 0
    seen.set(host, slot + 1)
    return slot
  })
}

interface CheckedOptions { basePort: number, coordinatorHost: string, nodeHosts: string[] }

function checkOptions (opts: InitOptions): CheckedOptions {
  const basePort = opts.basePort ?? DEFAULT_BASE_PORT
  const host = checkHost('--host', opts.host ?? '127.0.0.1')
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--nodes must be an integer from 1 to ${MAX_NODES}, got ${opts.nodes}`)
  }
  if (opts.nodeHosts != null && opts.nodeHosts.length !== opts.nodes) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--node-hosts gives ${opts.nodeHosts.length} address${opts.nodeHosts.length === 1 ? '' : 'es'} for ${opts.nodes} nodes: give one per node`)
  }
  const nodeHosts = opts.nodeHosts?.map((h) => checkHost('--node-hosts', h)) ?? Array.from({ length: opts.nodes }, () => host)
  const coordinatorHost = checkHost('--coordinator-host', opts.coordinatorHost ?? host)
  const slots = Math.max(...hostSlots(nodeHosts)) + 1
  const lastPort = nodePorts(basePort, slots - 1).http
  if (!Number.isInteger(basePort) || basePort < 1024 || lastPort > 65535) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--base-port must be an integer from 1024 to ${65535 - 2 * slots} for ${slots} node${slots === 1 ? '' : 's'} on one host, got ${basePort}`)
  }
  if (opts.mixnodes != null && (!Number.isInteger(opts.mixnodes) || opts.mixnodes < 1 || opts.mixnodes > MAX_MIXNODES)) {
    throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--mixnodes must be an integer from 1 to ${MAX_MIXNODES}, got ${opts.mixnodes}`)
  }
  return { basePort, coordinatorHost, nodeHosts }
}

export async function initNetwork (opts: InitOptions): Promise<InitResult> {
  const { basePort, coordinatorHost, nodeHosts } = checkOptions(opts)
  const dir = resolve(opts.out)
  const peersFile = join(dir, PEERS_FILE)
  const names = Array.from({ length: opts.nodes }, (_, i) => nodeName(i))

  const coordinatorDir = join(dir, COORDINATOR_DIR)
  const adminKeyFile = join(coordinatorDir, ADMIN_KEY_FILE)
  if (opts.force !== true) await refuseExisting([peersFile, adminKeyFile, ...names.flatMap((n) => [join(dir, n, NODE_KEY_FILE), join(dir, n, NODE_CONFIG_FILE)])])

  const coordinatorUrl = `http://${coordinatorHost}:${basePort}`
  const nodes: InitNodeResult[] = []
  const members: Member[] = []
  const slots = hostSlots(nodeHosts)
  for (const [index, name] of names.entries()) {
    const nodeDir = join(dir, name)
    const ports = nodePorts(basePort, slots[index] as number)
    const node = await writeNodeFiles({
      nodeDir, name, peersFile, coordinatorUrl, app: opts.app ?? 'rewards', host: nodeHosts[index] as string, p2pPort: ports.p2p, httpPort: ports.http, mixnodes: opts.mixnodes ?? 100, force: opts.force === true
    })
    members.push({ name, peerId: node.peerId, address: node.address })
    nodes.push(node)
  }
  await writePeersFile(peersFile, members)

  const coordinatorConfig = join(coordinatorDir, NODE_CONFIG_FILE)
  await mkdir(coordinatorDir, { recursive: true })
  if (opts.force === true) await rm(join(coordinatorDir, 'data'), { recursive: true, force: true })
  // the operator's key: its public key goes into the coordinator's config, the key never leaves the file
  const adminKey = NodeKey.generate()
  await writeKeyFile(adminKeyFile, adminKey)
  const adminPublicKey = toHex(adminKey.publicKey)
  const contract = {
    name: 'coordinator',
    peers_file: relative(coordinatorDir, peersFile),
    data_dir: 'data',
    environment: opts.environment ?? 'development',
    ...(opts.epochMs != null ? { epoch_ms: opts.epochMs } : {}),
    allow_standalone: false,
    rewards: { mixnodes: opts.mixnodes ?? 100, aggregation: 'median' },
    membership: { admin_public_key: adminPublicKey },
    http: { host: coordinatorHost, port: basePort },
    log: { level: 'info' }
  }
  await writeFileAtomic(coordinatorConfig,
    `# ephemera coordinator ("contract") configuration, written by \`ephemera init\`. Edit freely.\n# Relative paths are relative to this file's directory. README "Coordinator configuration" lists every key.\n\n${toToml(contract)}\n`)
  // last: the marker says the directory holds a complete network
  const markerFile = join(dir, CLUSTER_MARKER_FILE)
  const marker: ClusterMarker = { kind: CLUSTER_MARKER_KIND, version: 1, createdAt: new Date().toISOString(), app: opts.app ?? 'rewards', nodes: names }
  await writeFileAtomic(markerFile, JSON.stringify(marker, null, 2) + '\n')
  return { dir, markerFile, peersFile, coordinatorUrl, coordinatorConfig, adminKeyFile, adminPublicKey, nodes }
}

/** `ephemera init --join`: one validator's files for an existing network (see joinNetwork). */
export interface JoinOptions {
  /** Written into DIR/<name>/. */
  out: string
  name: string
  /** The coordinator's base URL (the node's coordinator_url). */
  coordinatorUrl: string
  /** The genesis committee (GET /contract/genesis): the peers file. */
  genesis: CommitteeJson
  /** The coordinator's rewards.mixnodes (its parameters). */
  mixnodes: number
  host?: string
  p2pPort: number
  httpPort: number
  force?: boolean
}

export interface JoinResult extends InitNodeResult {
  dir: string
  peersFile: string
  coordinatorUrl: string
  /** Members of the genesis committee written to the peers file. */
  genesisMembers: number
}

/**
 * The peers file of a committee (its members' names, PeerIds and first multiaddr, without a
 * `/p2p/` part). A member without an address fails: a coordinator whose genesis was stored before
 * it kept the members' addresses cannot give a joining node its peers.
 */
export function peersOfCommittee (committee: CommitteeJson): Member[] {
  return committee.members.map((m) => {
    const first = m.multiaddrs?.[0]
    if (first == null) {
      throw new EphemeraError(ErrorCode.REMOTE,
        `the coordinator's genesis committee gives no address for ${m.name} (${m.peerId}): it cannot tell a new validator where the members listen; write the peers file by hand (README "Peers file")`)
    }
    const address = first.replace(/\/p2p\/[^/]+$/, '')
    if (!tcpMultiaddrField.safeParse(address).success) throw new EphemeraError(ErrorCode.REMOTE, `the coordinator's genesis committee gives ${m.name} the address "${first}", not a TCP multiaddr like /ip4/127.0.0.1/tcp/4001`)
    return { name: m.name, peerId: m.peerId, address }
  })
}

/**
 * Writes one validator's files for an existing network: DIR/<name>/node.key (new identity, mode
 * 0600), DIR/<name>/peers.toml (the genesis committee) and DIR/<name>/config.toml (the
 * coordinator's URL and mixnodes, p2p and HTTP on the given ports). Refuses to overwrite a key or
 * config without `force`, which also wipes the node's data.
 */
export async function joinNetwork (opts: JoinOptions): Promise<JoinResult> {
  const host = checkHost('--host', opts.host ?? '127.0.0.1')
  if (!nameField.safeParse(opts.name).success) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `--name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit; got "${opts.name}"`)
  for (const port of [opts.p2pPort, opts.httpPort]) {
    if (!Number.isInteger(port) || port < 1024 || port > 65535) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `ports must be integers from 1024 to 65535, got ${port}`)
  }
  const members = peersOfCommittee(opts.genesis)
  if (members.some((m) => m.name === opts.name)) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `the name ${opts.name} is taken by a member of the genesis committee; choose another with --name`)
  const dir = resolve(opts.out)
  const nodeDir = join(dir, opts.name)
  const peersFile = join(nodeDir, PEERS_FILE)
  if (opts.force !== true) await refuseExisting([join(nodeDir, NODE_KEY_FILE), join(nodeDir, NODE_CONFIG_FILE)])
  const node = await writeNodeFiles({
    nodeDir, name: opts.name, peersFile, coordinatorUrl: opts.coordinatorUrl, app: 'rewards', host, p2pPort: opts.p2pPort, httpPort: opts.httpPort, mixnodes: opts.mixnodes, force: opts.force === true
  })
  await writePeersFile(peersFile, members)
  return { ...node, dir: nodeDir, peersFile, coordinatorUrl: opts.coordinatorUrl, genesisMembers: members.length }
}
