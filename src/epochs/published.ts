import type { CommitteeJson, EpochRecordJson } from './record.js'
import type { ChainInput } from './verify-epoch.js'

/**
 * Reading what a coordinator publishes for verification (GET /contract/epochs, /contract/epochs/{e},
 * /contract/genesis), over any JSON getter: `ephemera verify` passes its HTTP client, the
 * dashboard the browser's fetch. Portable.
 */

/** GETs `url` and parses its JSON body (throws on an error answer). */
export type GetJson = <T>(url: string) => Promise<T>

const PAGE = 1000
const PARALLEL = 4

/** The epochs the coordinator has committed, read page by page (GET /contract/epochs, newest first), ascending. */
export async function committedEpochsOf (get: GetJson, base: string): Promise<number[]> {
  const epochs: number[] = []
  let from: number | undefined
  for (;;) {
    const query = from == null ? `limit=${PAGE}` : `limit=${PAGE}&from=${from}`
    const page = await get<{ currentEpoch: number, epochs: Array<{ epoch: number, status: string }> }>(`${base}/contract/epochs?${query}`)
    for (const e of page.epochs) if (e.status === 'committed') epochs.push(e.epoch)
    const lowest = page.epochs.at(-1)?.epoch
    if (lowest == null || lowest <= 1) return epochs.sort((a, b) => a - b)
    from = lowest - 1
  }
}

/** Every committed record, a few requests at a time, ascending by epoch. */
export async function allRecordsOf (get: GetJson, base: string): Promise<EpochRecordJson[]> {
  const epochs = await committedEpochsOf(get, base)
  const records: EpochRecordJson[] = []
  for (let i = 0; i < epochs.length; i += PARALLEL) {
    records.push(...await Promise.all(epochs.slice(i, i + PARALLEL).map(async (e) => await get<EpochRecordJson>(`${base}/contract/epochs/${e}`))))
  }
  return records
}

/** What the committee chain is checked from: the genesis committee and every committed record. */
export async function chainInputOf (get: GetJson, base: string): Promise<ChainInput> {
  const genesis = await get<{ committee: CommitteeJson }>(`${base}/contract/genesis`)
  return { genesis: genesis.committee, records: await allRecordsOf(get, base) }
}
