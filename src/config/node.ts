import { dirname, join, resolve } from 'node:path'
import * as z from 'zod'
import { loadLayeredConfig, type ConfigOverrides } from './loader.js'
import { httpUrlField, logSectionField, heapSectionField, msField, nameField, portField, tcpMultiaddrField } from './fields.js'
import { MAX_MIXNODES } from '../epochs/report.js'

/**
 * The node's configuration file (TOML). README "Configuration" documents every key; keep the two
 * in step. Paths are resolved relative to the file that names them.
 */
export const nodeConfigSchema = z.strictObject({
  /** Human name of this node, used in logs and the peers file. */
  name: nameField,
  /** PKCS#8 PEM Ed25519 private key (mode 0600); the PeerId derives from it. */
  key_file: z.string().min(1),
  /** TOML file listing every member of the validator set. */
  peers_file: z.string().min(1),
  /** Directory for the level database and other state. Default: `data/<name>` next to the config. */
  data_dir: z.string().min(1).optional(),
  /** Base URL of the epoch coordinator ("the contract"); required by the rewards application. */
  coordinator_url: httpUrlField.optional(),
  /** What the node runs on top of reliable broadcast: the rewards pipeline, or plain client messages. */
  app: z.enum(['rewards', 'messages']).default('rewards'),
  rewards: z.strictObject({
    /** Simulated mixnodes (ids 0..n-1); must equal the coordinator's. */
    mixnodes: z.number().int().min(1).max(MAX_MIXNODES).default(100),
    /** Shared by every node of a network: mixnodes' base reliability derives from it. */
    network_seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** Thousandths of the mixnodes that flap (go down for whole periods). */
    flapping_permille: z.number().int().min(0).max(1000).default(100),
    /** This node's measurement noise, ± percentage points. */
    noise: z.number().int().min(0).max(50).default(5),
    /** Submit own averages without consensus (the baseline; same as --standalone). */
    standalone: z.boolean().default(false),
    /** TEST ONLY: misbehave. skewed = report 100 % everywhere; silent = keep its report to itself; equivocate = publish two different reports. */
    fault: z.enum(['none', 'skewed', 'silent', 'equivocate']).default('none'),
    /** Pipeline states and report equivocation evidence of epochs this many behind the current one are deleted (official records are kept). */
    /** Ask the coordinator to join the committee when this node is outside it (first start, after a drop). */
    auto_join: z.boolean().default(true),
    keep_epochs: z.number().int().min(20).max(100_000_000).default(2_000)
  }).prefault({}),
  p2p: z.strictObject({
    /** Multiaddr the libp2p host listens on; it must match this node's address in the peers file. */
    listen: tcpMultiaddrField.default('/ip4/127.0.0.1/tcp/4001'),
    /**
     * Where others dial this node, when that is not p2p.listen (listening on 0.0.0.0, or behind
     * NAT): what it registers with the coordinator (auto-join, `validator join`). Empty = p2p.listen.
     */
    announce: z.array(tcpMultiaddrField.refine((a) => !isUnspecified(a), 'must be an address others can dial, not an unspecified one (0.0.0.0, ::)')).max(8).default([]),
    /** First re-dial delay after a member is unreachable; doubles per failure (with jitter). */
    dial_backoff_initial_ms: msField(10, 60_000).default(250),
    /** Upper bound of the re-dial delay. */
    dial_backoff_max_ms: msField(10, 600_000).default(5_000),
    /** Give up a single dial attempt after this long. */
    dial_timeout_ms: msField(100, 120_000).default(5_000),
    /** Gossipsub heartbeat interval. */
    gossip_heartbeat_ms: msField(50, 60_000).default(700),
    /** How often each connection is pinged; one unanswered for 30–60 s is closed (and re-dialled). */
    ping_interval_ms: msField(1_000, 3_600_000).default(120_000),
    /**
     * TEST ONLY: a file of PeerIds (one per line) this node cuts itself off from, polled every
     * 200 ms (the perturbation suite's network partition). "" = off.
     */
    fault_partition_file: z.string().default('').transform((v) => (v === '' ? undefined : v))
  }).prefault({}),
  broadcast: z.strictObject({
    /** Propose a block of pending messages this often (when the mempool has any for this node). */
    block_interval_ms: msField(50, 3_600_000).default(1_000),
    /** Turn off to make this node a voter only (it still echoes, signs and stores blocks). */
    produce_blocks: z.boolean().default(true),
    /** Most messages in one block. */
    max_messages_per_block: z.number().int().min(1).max(2_000).default(500),
    /** A message is included by its designated member first; by anyone after waiting this long. */
    designated_fallback_ms: msField(0, 3_600_000).default(3_000),
    /** First retransmission delay of an unacknowledged RBC message; doubles up to the max. */
    retransmit_initial_ms: msField(10, 60_000).default(200),
    retransmit_max_ms: msField(10, 600_000).default(5_000),
    /** Unacknowledged RBC messages older than this are dropped. */
    retransmit_max_age_ms: msField(1_000, 86_400_000).default(600_000),
    /** Deadline of one RBC request or block fetch. */
    request_timeout_ms: msField(100, 120_000).default(10_000),
    /** How often to ask connected members for certified blocks this node lacks (0 = never). */
    sync_interval_ms: msField(0, 3_600_000).default(5_000),
    /** Most RBC messages queued for one peer; the oldest are dropped beyond it. */
    max_queue_messages_per_peer: z.number().int().min(16).max(10_000_000).default(10_000),
    /** Most bytes of RBC messages queued for one peer; the oldest are dropped beyond it. */
    max_queue_bytes_per_peer: z.number().int().min(16 * 1024 * 1024).max(4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** Inbound RBC bytes per second accepted from one peer (bursts of two full frames pass); more is refused and retransmitted later. */
    peer_rate_bytes_per_s: z.number().int().min(64 * 1024).max(4 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
    /** Inbound RBC messages per second accepted from one peer (bursts of twice that pass). */
    peer_rate_messages_per_s: z.number().int().min(10).max(10_000_000).default(10_000),
    /** Most undelivered proposals kept per creator; further PROPOSEs are refused until some deliver or close. */
    max_open_instances_per_creator: z.number().int().min(1).max(100_000).default(16),
    /** Most bytes of undelivered blocks kept per creator. */
    max_open_bytes_per_creator: z.number().int().min(8 * 1024 * 1024 + 65_536).max(4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** Most instances per creator known only from others' votes (their senders retransmit beyond it). */
    max_orphans_per_creator: z.number().int().min(1).max(100_000).default(256),
    /** Rounds of a creator at or below its highest decided round minus this are closed and forgotten. */
    decided_window_rounds: z.number().int().min(1).max(1_000_000).default(64),
    /** Equivocation evidence slots kept on disk (the oldest rounds go first). */
    max_evidence: z.number().int().min(1).max(1_000_000).default(1_000)
  }).prefault({}),
  mempool: z.strictObject({
    max_messages: z.number().int().min(1).max(10_000_000).default(10_000),
    max_bytes: z.number().int().min(1024).max(4 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /** Messages not included in a block within this time are dropped. */
    max_age_ms: msField(1_000, 86_400_000).default(600_000),
    /** Messages whose timestamp is further than this from the node's clock are refused. */
    max_clock_skew_ms: msField(0, 86_400_000).default(300_000)
  }).prefault({}),
  http: z.strictObject({
    /** Interface the HTTP API binds to; 127.0.0.1 unless you mean to expose it. */
    host: z.string().min(1).default('127.0.0.1'),
    /** HTTP API port (0 = any free port). */
    port: portField.default(8001),
    /** Most WebSocket clients on /ephemera/broadcast/ws at once; more are closed with code 1013. */
    ws_max_clients: z.number().int().min(1).max(10_000).default(64),
    /** Most bytes queued for one WebSocket client; a client that falls further behind is closed (1008). */
    ws_max_buffered_bytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Most stored blocks one WebSocket client may have replayed (?from_height=); further back is refused with 400. */
    ws_max_replay: z.number().int().min(1).max(1_000_000).default(1000)
  }).prefault({}),
  heap: heapSectionField,
  log: logSectionField
}).superRefine((config, ctx) => {
  if (config.p2p.dial_backoff_max_ms < config.p2p.dial_backoff_initial_ms) {
    ctx.addIssue({ code: 'custom', path: ['p2p', 'dial_backoff_max_ms'], message: `must be at least p2p.dial_backoff_initial_ms (${config.p2p.dial_backoff_initial_ms})` })
  }
})

export type NodeConfigInput = z.input<typeof nodeConfigSchema>
export type NodeConfig = Readonly<Omit<z.output<typeof nodeConfigSchema>, 'data_dir'> & { data_dir: string, config_file: string }>

/** Whether a multiaddr's host is unspecified (0.0.0.0, ::): an address to listen on that nobody can dial. */
export function isUnspecified (address: string): boolean {
  return /^\/ip[46]\/(0\.0\.0\.0|::)\//.test(address)
}

/** Where others dial this node: p2p.announce, or p2p.listen when it is empty. */
export function dialableAddresses (config: Pick<NodeConfig, 'p2p'>): string[] {
  return config.p2p.announce.length > 0 ? [...config.p2p.announce] : [config.p2p.listen]
}

export const NODE_ENV_PREFIX = 'EPHEMERA_'
const NODE_PATH_KEYS = ['key_file', 'peers_file', 'data_dir', 'p2p.fault_partition_file', 'log.file']

export type NodeConfigOverrides = ConfigOverrides

/** Loads a node config: defaults → file → environment (EPHEMERA_*, LOG_LEVEL) → flags. */
export async function loadNodeConfig (file: string, overrides: NodeConfigOverrides = {}): Promise<NodeConfig> {
  const config = await loadLayeredConfig(nodeConfigSchema, file, NODE_ENV_PREFIX, NODE_PATH_KEYS, overrides)
  return Object.freeze({
    ...config,
    data_dir: config.data_dir ?? join(dirname(resolve(file)), 'data', config.name),
    config_file: resolve(file)
  })
}
