import { allRecordsOf, chainInputOf, committedEpochsOf } from '../../epochs/published.js'
import type { EpochRecordJson } from '../../epochs/record.js'
import { verifyChain, type ChainReport } from '../../epochs/verify-epoch.js'
import { requestJson } from '../http-client.js'

export { chainLine, SINGLE_RECORD_CHAIN_NOTE, type ChainReport } from '../../epochs/verify-epoch.js'

/**
 * What `ephemera verify --contract` reads from the coordinator (src/epochs/published.ts over the
 * CLI's HTTP client); the checks themselves are src/epochs/verify-epoch.ts, shared with the dashboard.
 */

const get = async <T>(url: string): Promise<T> => await requestJson<T>('GET', url)

/** The epochs the coordinator has committed, read page by page (GET /contract/epochs, newest first). */
export async function committedEpochs (base: string): Promise<number[]> {
  return await committedEpochsOf(get, base)
}

/** Every committed record, a few requests at a time. */
export async function allRecords (base: string): Promise<EpochRecordJson[]> {
  return await allRecordsOf(get, base)
}

/** The genesis committee (GET /contract/genesis) and every committed record. */
export const chainInput = async (base: string): ReturnType<typeof chainInputOf> => await chainInputOf(get, base)

/**
 * Re-derives every epoch's committee from the genesis committee (GET /contract/genesis) and the
 * changes the records carry (committeeChainChecks): every check must hold.
 */
export async function verifyCommitteeChain (base: string): Promise<ChainReport> {
  return verifyChain(await chainInput(base))
}
