import { committedSummary, type EpochSummary } from '../epochs/epoch-summary.js'
import type { EpochRecordJson } from '../epochs/record.js'

/** The most summaries kept: a whole page of `GET /contract/epochs` (at most 1,000 epochs) fits. */
export const MAX_SUMMARIES = 1_024

/**
 * Summaries of committed records, for `GET /contract/epochs`. A committed record never changes,
 * so its summary is made once from the stored record and kept (the newest epochs, at most `max`).
 * Listing 20 epochs read and parsed 20 whole records (~130 KB each at 1,000 mixnodes) every time:
 * a cluster's status line and a dashboard ask every second; a CPU profile of the coordinator at 10
 * nodes had that listing among its top entries.
 */
export class RecordSummaries {
  readonly #max: number
  readonly #load: (epoch: number) => Promise<EpochRecordJson | undefined>
  readonly #kept = new Map<number, EpochSummary>()

  constructor (load: (epoch: number) => Promise<EpochRecordJson | undefined>, max = MAX_SUMMARIES) {
    this.#load = load
    this.#max = max
  }

  get size (): number {
    return this.#kept.size
  }

  /** The summary of epoch `epoch`'s record, or undefined while it has none. */
  async get (epoch: number): Promise<EpochSummary | undefined> {
    const kept = this.#kept.get(epoch)
    if (kept != null) return kept
    const record = await this.#load(epoch)
    if (record == null) return undefined
    const summary = committedSummary(record)
    this.#kept.set(epoch, summary)
    if (this.#kept.size > this.#max) this.#kept.delete(Math.min(...this.#kept.keys()))
    return summary
  }
}
