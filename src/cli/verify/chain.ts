import type { Check } from '../../block/verify.js'
import type { EpochSummary } from '../../contract/api.js'
import type { GenesisRound } from '../../contract/store.js'
import { committeeChainChecks } from '../../epochs/committee-chain.js'
import type { EpochRecordJson } from '../../epochs/record.js'
import { requestJson } from '../http-client.js'

/** The committee chain from genesis through every published record (`ephemera verify --contract`). */
export interface ChainReport {
  ok: boolean
  /** Records read, and the committee changes they carry. */
  records: number
  changes: number
  checks: Check[]
  failure?: string
}

const PAGE = 1000
const PARALLEL = 4

/** The epochs the coordinator has committed, read page by page (GET /contract/epochs, newest first). */
export async function committedEpochs (base: string): Promise<number[]> {
  const epochs: number[] = []
  let from: number | undefined
  for (;;) {
    const query = from == null ? `limit=${PAGE}` : `limit=${PAGE}&from=${from}`
    const page = await requestJson<{ currentEpoch: number, epochs: EpochSummary[] }>('GET', `${base}/contract/epochs?${query}`)
    for (const e of page.epochs) if (e.status === 'committed') epochs.push(e.epoch)
    const lowest = page.epochs.at(-1)?.epoch
    if (lowest == null || lowest <= 1) return epochs.sort((a, b) => a - b)
    from = lowest - 1
  }
}

/** Every committed record, a few requests at a time. */
export async function allRecords (base: string): Promise<EpochRecordJson[]> {
  const epochs = await committedEpochs(base)
  const records: EpochRecordJson[] = []
  for (let i = 0; i < epochs.length; i += PARALLEL) {
    records.push(...await Promise.all(epochs.slice(i, i + PARALLEL).map(async (e) => await requestJson<EpochRecordJson>('GET', `${base}/contract/epochs/${e}`))))
  }
  return records
}

/**
 * Re-derives every epoch's committee from the genesis committee (GET /contract/genesis) and the
 * changes the records carry (committeeChainChecks): every check must hold.
 */
export async function verifyCommitteeChain (base: string): Promise<ChainReport> {
  const genesis = await requestJson<GenesisRound>('GET', `${base}/contract/genesis`)
  const records = await allRecords(base)
  const checks = committeeChainChecks(genesis.committee, records)
  const failed = checks.find((c) => !c.ok)
  return {
    ok: failed == null,
    records: records.length,
    changes: records.filter((r) => r.committeeChange != null).length,
    checks,
    ...(failed != null ? { failure: `${failed.name}: ${failed.detail}` } : {})
  }
}

/** The one line `ephemera verify` prints about the chain. */
export function chainLine (report: ChainReport): string {
  if (!report.ok) return `committee chain: FAIL ${report.failure ?? ''}`
  return `committee chain: ${report.changes} change${report.changes === 1 ? '' : 's'} over ${report.records} record${report.records === 1 ? '' : 's'}, every record's committee follows from genesis`
}

export const SINGLE_RECORD_CHAIN_NOTE = 'committee chain: not checked (a single record cannot show it; verify with --contract URL to re-derive every epoch\'s committee from genesis)'
