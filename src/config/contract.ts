import { dirname, join, resolve } from 'node:path'
import * as z from 'zod'
import { loadLayeredConfig, type ConfigOverrides } from './loader.js'
import { logSectionField, heapSectionField, msField, nameField, portField } from './fields.js'
import { MAX_MIXNODES } from '../epochs/report.js'

/** The coordinator's configuration file (TOML). README "Coordinator configuration" lists every key. */
export const contractConfigSchema = z.strictObject({
  name: nameField.default('coordinator'),
  /** The committee: every member of the peers file. */
  peers_file: z.string().min(1),
  /** Directory of the coordinator's level database. Default: data/ next to the config. */
  data_dir: z.string().min(1).optional(),
  /** Preset: epoch length and every timeout scaled from it. */
  environment: z.enum(['testing', 'development', 'production']).default('development'),
  /** Overrides the preset's epoch length (the timeouts scale along). */
  epoch_ms: msField(500, 86_400_000).optional(),
  /** Overrides the preset's chunk size: mixnodes per chunk of the reward table. */
  chunk_size: z.number().int().min(1).max(30_000).optional(),
  /**
   * Accept uncertified submissions from `node run --standalone` (the baseline without consensus).
   * Off by default: with it on, any single member could decide an epoch on its own.
   */
  allow_standalone: z.boolean().default(false),
  rewards: z.strictObject({
    /** Number of simulated mixnodes (ids 0..n-1); nodes must simulate the same number. */
    mixnodes: z.number().int().min(1).max(MAX_MIXNODES).default(100),
    /** How the reports' values for a mixnode are combined. */
    aggregation: z.enum(['median', 'mean', 'trimmed-mean']).default('median'),
    /** trimmed-mean: thousandths dropped at each end. */
    trim_permille: z.number().int().min(0).max(499).default(200),
    /** A mixnode with fewer values is insufficient (no reward). 0 = f + 1. */
    min_values: z.number().int().min(0).max(1000).default(0),
    /** Reward units distributed per epoch (a decimal integer, may exceed 2^53). */
    reward_pool: z.string().regex(/^\d{1,30}$/, 'must be a decimal integer').default('1000000'),
    /** Reports a block must hold. 0 = q (the quorum). */
    rewards_threshold: z.number().int().min(0).max(1000).default(0)
  }).prefault({}),
  /** The living committee: who may join, sizes, drops and bans (README "A living committee"). */
  membership: z.strictObject({
    /** allowlist: only the keys below (and genesis or dropped members) may queue; open: anyone, up to max_queue. */
    admission: z.enum(['allowlist', 'open']).default('allowlist'),
    /** Public keys (64 hex digits) that may join under admission = "allowlist". */
    allowlist: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a 32-byte public key in hex').transform((k) => k.toLowerCase())).max(10_000).default([]),
    /** Validators that may wait in the queue at once. */
    max_queue: z.number().int().min(1).max(10_000).default(64),
    /** No leave or drop takes the committee below this (bans still apply). Capped at the genesis size. */
    min_committee: z.number().int().min(1).max(1000).default(4),
    /** Admissions stop at this size. */
    max_committee: z.number().int().min(1).max(1000).default(100),
    /** Drop a member after this many consecutive missed epochs (no report in the record, a lease let expire). 0 = never. */
    drop_after_missed: z.number().int().min(0).max(10_000).default(10),
    /** Ban a key dropped more than this many times. 0 = never. */
    ban_after_drops: z.number().int().min(0).max(10_000).default(5),
    /** Ban records kept (beyond it the oldest is forgotten, with its evidence). */
    max_bans: z.number().int().min(1).max(100_000).default(1000),
    /** The operator's public key (hex) for lock, unlock, ban and unban; `init` writes its key file. Unset: no operator controls. */
    admin_public_key: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a 32-byte public key in hex').transform((k) => k.toLowerCase()).optional()
  }).prefault({}),
  http: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: portField.default(7000),
    /** Most WebSocket clients on /contract/ws at once; more are closed with code 1013. */
    ws_max_clients: z.number().int().min(1).max(10_000).default(64),
    /** Most bytes queued for one WebSocket client; a client that falls further behind is closed (1008). */
    ws_max_buffered_bytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Most epochs back one WebSocket client may have replayed (?from_epoch=); further back is refused with 400. */
    ws_max_replay: z.number().int().min(1).max(1_000_000).default(1000)
  }).prefault({}),
  heap: heapSectionField,
  log: logSectionField
})

export type ContractConfig = Readonly<Omit<z.output<typeof contractConfigSchema>, 'data_dir'> & { data_dir: string, config_file: string }>

export const CONTRACT_ENV_PREFIX = 'EPHEMERA_CONTRACT_'

/** Loads a coordinator config: defaults → file → environment (EPHEMERA_CONTRACT_*, LOG_LEVEL) → flags. */
export async function loadContractConfig (file: string, overrides: ConfigOverrides = {}): Promise<ContractConfig> {
  const config = await loadLayeredConfig(contractConfigSchema, file, CONTRACT_ENV_PREFIX, ['peers_file', 'data_dir', 'log.file'], overrides)
  return Object.freeze({ ...config, data_dir: config.data_dir ?? join(dirname(resolve(file)), 'data'), config_file: resolve(file) })
}
