import type { Environment } from '../epochs/environment.js'
import type { CommitteeJson, ParametersJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { CoordinatorStore } from './store.js'

/**
 * Round 0: loads the genesis time, or fixes it (the next whole second after `now`) on first
 * start, with the epoch length — epoch numbers depend on both, so a different length later is
 * refused — and stores the genesis round (the committee and parameters it started with) once.
 * Idempotent. Returns the genesis time.
 */
export async function loadGenesis (store: CoordinatorStore, p: { environment: Environment, committee: CommitteeJson, parameters: ParametersJson, now: number }): Promise<number> {
  let genesis = await store.genesis()
  if (genesis == null) {
    genesis = Math.ceil(p.now / 1000) * 1000
    await store.setEpochMs(p.environment.epochMs)
    await store.setGenesis(genesis)
  }
  const epochMs = await store.epochMs()
  if (epochMs == null) {
    await store.setEpochMs(p.environment.epochMs)
  } else if (epochMs !== p.environment.epochMs) {
    throw new EphemeraError(ErrorCode.CONFIG_INVALID,
      `this coordinator's data was made with ${epochMs} ms epochs; it cannot run with ${p.environment.epochMs} ms (every epoch number would change). Use the original length, or clear the data of the coordinator and the nodes (ephemera cluster clear) to start over`)
  }
  if (await store.genesisRound() == null) {
    await store.setGenesisRound({ round: 0, genesisMs: genesis, committee: p.committee, parameters: p.parameters, environment: p.environment.name })
  }
  return genesis
}
