import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { assertEpochLengthMatches, readStoredEpochClock } from '../../../src/cluster/epoch-check.js'
import { initNetwork } from '../../../src/config/generate.js'
import { LevelCoordinatorStore } from '../../../src/contract/store.js'
import { Database } from '../../../src/storage/index.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

/** `cluster up` compares the epoch length with the coordinator's data before it starts anything. */

async function cluster (environment: 'testing' | 'development', epochMs?: number): Promise<{ dir: string, configFile: string, dataDir: string }> {
  const dir = join(await tempDir(), 'net')
  const result = await initNetwork({ nodes: 1, out: dir, basePort: 42000, environment, epochMs })
  return { dir, configFile: result.coordinatorConfig, dataDir: join(dir, 'coordinator', 'data') }
}

/** What the coordinator stores at its first start. */
async function storeClock (dataDir: string, epochMs: number): Promise<void> {
  const db = await Database.open(dataDir)
  try {
    const store = new LevelCoordinatorStore(db)
    await store.setEpochMs(epochMs)
    await store.setGenesis(1_700_000_000_000)
  } finally {
    await db.close()
  }
}

async function refusal (promise: Promise<void>): Promise<EphemeraError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    return err as EphemeraError
  }
  throw new Error('expected a refusal')
}

describe('assertEpochLengthMatches', () => {
  it('passes a coordinator without data, and creates none', async () => {
    const { configFile, dataDir } = await cluster('testing')
    await assertEpochLengthMatches(configFile, 5, 'net')
    await expect(access(dataDir)).rejects.toThrow()
  })

  it('passes the length the data was made with, from the preset, the config or --epoch-seconds', async () => {
    const { configFile, dataDir } = await cluster('testing')
    await storeClock(dataDir, 2_000)
    await assertEpochLengthMatches(configFile, undefined, 'net')
    await assertEpochLengthMatches(configFile, 2, 'net')
    expect(await readStoredEpochClock(dataDir)).toEqual({ genesisMs: 1_700_000_000_000, epochMs: 2_000 })
  })

  it('refuses --epoch-seconds that differs from the data, naming both lengths and both fixes', async () => {
    const { configFile, dataDir } = await cluster('testing')
    await storeClock(dataDir, 2_000)
    const err = await refusal(assertEpochLengthMatches(configFile, 3, 'my/dir'))
    expect(err.code).toBe(ErrorCode.CLUSTER)
    expect(err.message).toBe(`the coordinator's data in ${dataDir} was made with 2 s epochs, but this start would use 3 s (from --epoch-seconds 3): every epoch number would change; start with the original length (--epoch-seconds 2), or delete the cluster's data first with \`ephemera cluster clear --dir my/dir\`; nothing was started`)
  })

  it('refuses a preset or epoch_ms in the config that differs from the data', async () => {
    const preset = await cluster('development')
    await storeClock(preset.dataDir, 2_000)
    expect((await refusal(assertEpochLengthMatches(preset.configFile, undefined, 'd'))).message).toMatch(/made with 2 s epochs, but this start would use 10 s \(from the "development" preset of .*config\.toml\)/)

    const configured = await cluster('testing', 4_000)
    await storeClock(configured.dataDir, 2_500)
    expect((await refusal(assertEpochLengthMatches(configured.configFile, undefined, 'd'))).message).toMatch(/made with 2500 ms epochs, but this start would use 4 s \(from epoch_ms = 4000 in .*config\.toml or EPHEMERA_CONTRACT_EPOCH_MS\): every epoch number would change; start with the original length \(epoch_ms = 2500 in .*config\.toml\)/)
  })

  it('applies epoch_ms edited into the config', async () => {
    const { configFile, dataDir } = await cluster('testing')
    await storeClock(dataDir, 5_000)
    await writeFile(configFile, (await readFile(configFile, 'utf8')).replace('environment = "testing"', 'environment = "testing"\nepoch_ms = 5000'))
    await assertEpochLengthMatches(configFile, undefined, 'd')
  })

  it('leaves a database held by a running coordinator alone', async () => {
    const { configFile, dataDir } = await cluster('testing')
    await storeClock(dataDir, 2_000)
    const db = await Database.open(dataDir)
    try {
      expect(await readStoredEpochClock(dataDir)).toBeUndefined()
      await assertEpochLengthMatches(configFile, 3, 'd')
    } finally {
      await db.close()
    }
  })
})
