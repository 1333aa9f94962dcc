import { join } from 'node:path'
import { loadContractConfig } from '../config/index.js'
import { environmentWithEpoch } from '../epochs/environment.js'
import { LevelCoordinatorStore } from '../contract/store.js'
import { Database } from '../storage/index.js'
import { EphemeraError, ErrorCode, isEphemeraError } from '../util/errors.js'
import { pathExists } from '../util/fs.js'

/** What the coordinator's database says about its epoch clock. */
export interface StoredEpochClock {
  genesisMs: number | undefined
  epochMs: number | undefined
}

/**
 * Reads the genesis and epoch length a stopped coordinator keeps in `dataDir`; undefined when
 * there is no database yet, or another process holds it (a running coordinator: not ours to read).
 */
export async function readStoredEpochClock (dataDir: string): Promise<StoredEpochClock | undefined> {
  // Database.open creates a missing database: only open one that exists
  if (!await pathExists(join(dataDir, 'db'))) return undefined
  let db: Database
  try {
    db = await Database.open(dataDir)
  } catch (err) {
    if (isEphemeraError(err) && err.code === ErrorCode.DB_LOCKED) return undefined
    throw err
  }
  try {
    const store = new LevelCoordinatorStore(db)
    return { genesisMs: await store.genesis(), epochMs: await store.epochMs() }
  } finally {
    await db.close()
  }
}

const seconds = (ms: number): string => ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`

/**
 * `cluster up`, before it starts a coordinator: the epoch length it would run with (its preset,
 * `epoch_ms` from its config and the environment, `--epoch-seconds`) must be the one its data was
 * made with, since epoch numbers depend on it; the coordinator itself would refuse, too late.
 * Throws ERR_CLUSTER (one line: both lengths and the two ways out).
 */
export async function assertEpochLengthMatches (configFile: string, epochSeconds: number | undefined, dirOption: string): Promise<void> {
  const config = await loadContractConfig(configFile, {
    flags: [{ flag: '--epoch-ms', key: 'epoch_ms', value: epochSeconds == null ? undefined : epochSeconds * 1000 }]
  })
  const planned = environmentWithEpoch(config.environment, config.epoch_ms).epochMs
  const stored = await readStoredEpochClock(config.data_dir)
  if (stored?.epochMs == null || stored.epochMs === planned) return
  const source = epochSeconds != null
    ? `--epoch-seconds ${epochSeconds}`
    : config.epoch_ms != null ? `epoch_ms = ${config.epoch_ms} in ${configFile} or EPHEMERA_CONTRACT_EPOCH_MS` : `the "${config.environment}" preset of ${configFile}`
  const original = stored.epochMs % 1000 === 0 && stored.epochMs / 1000 <= 86_400
    ? `--epoch-seconds ${stored.epochMs / 1000}`
    : `epoch_ms = ${stored.epochMs} in ${configFile}`
  throw new EphemeraError(ErrorCode.CLUSTER,
    `the coordinator's data in ${config.data_dir} was made with ${seconds(stored.epochMs)} epochs, but this start would use ${seconds(planned)} (from ${source}): every epoch number would change; start with the original length (${original}), or delete the cluster's data first with \`ephemera cluster clear --dir ${dirOption}\`; nothing was started`,
    { storedEpochMs: stored.epochMs, plannedEpochMs: planned })
}
