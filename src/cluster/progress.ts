import type { EpochSummary } from '../contract/api.js'
import type { EpochProgress } from '../rewards/service.js'
import { tryGetJson } from './http.js'

/**
 * One line per epoch for `cluster up`: reports seen, the certified block, the winner and the
 * latency from the epoch's end to the coordinator's acceptance; or why it was not committed.
 */
export class EpochReporter {
  readonly #coordinatorUrl: string
  readonly #nodes: ReadonlyArray<{ name: string, httpUrl: string }>
  readonly #print: (line: string) => void
  readonly #done = new Set<number>()
  #deadlineMs: number | undefined
  #firstEpoch: number | undefined

  constructor (coordinatorUrl: string, nodes: ReadonlyArray<{ name: string, httpUrl: string }>, print: (line: string) => void) {
    this.#coordinatorUrl = coordinatorUrl
    this.#nodes = nodes
    this.#print = print
  }

  /** Prints lines for epochs that were decided (or given up) since the last call. */
  async poll (now = Date.now()): Promise<void> {
    if (this.#deadlineMs == null) {
      const info = await tryGetJson<{ environment: { epochDeadlineMs: number }, epoch: number }>(`${this.#coordinatorUrl}/contract/epoch`, 1_500)
      if (info == null) return
      this.#deadlineMs = info.environment.epochDeadlineMs
      // epochs that ended before we started watching are not ours to report
      this.#firstEpoch = info.epoch
    }
    const list = await tryGetJson<{ epochs: EpochSummary[] }>(`${this.#coordinatorUrl}/contract/epochs?limit=20`, 1_500)
    if (list == null) return
    for (const epoch of [...list.epochs].reverse()) {
      if (this.#done.has(epoch.epoch) || epoch.epoch < (this.#firstEpoch ?? 0)) continue
      if (epoch.status === 'committed') {
        this.#done.add(epoch.epoch)
        this.#print(await this.#committedLine(epoch))
      } else if (epoch.status === 'failed' || (epoch.status === 'pending' && epoch.chunks == null && now > epoch.endMs + (this.#deadlineMs ?? 0) + 1_000)) {
        this.#done.add(epoch.epoch)
        this.#print(await this.#failedLine(epoch))
      }
    }
  }

  async #progress (epoch: number): Promise<Array<{ name: string, progress: EpochProgress | null }>> {
    return await Promise.all(this.#nodes.map(async (n) => ({
      name: n.name,
      progress: (await tryGetJson<{ progress: EpochProgress | null }>(`${n.httpUrl}/ephemera/rewards/epochs/${epoch}`, 1_500))?.progress ?? null
    })))
  }

  async #committedLine (e: EpochSummary): Promise<string> {
    const progress = await this.#progress(e.epoch)
    const seen = Math.max(0, ...progress.map((p) => p.progress?.reporters.length ?? 0))
    const creator = progress.find((p) => p.progress?.block?.hash === e.blockHash)?.progress?.block?.creator
    const block = e.mode === 'standalone' ? 'no block (standalone)' : `block ${(e.blockHash ?? '').slice(0, 12)}${creator != null ? ` by ${creator}` : ''} (${e.signatures ?? 0} signatures, ${e.reports ?? 0} reports)`
    const chunks = e.chunks == null ? '' : `chunks ${e.chunks.verified}/${e.chunks.total} verified, `
    const change = e.committeeChange == null ? '' : `; committee change from epoch ${e.committeeChange.effectiveEpoch}: ${e.committeeChange.decisions.join(', ')}`
    return `epoch ${e.epoch}: reports ${seen}/${e.committeeSize ?? this.#nodes.length}, ${block}, ${chunks}winner ${e.winner ?? '?'}, committed ${e.latencyMs ?? '?'} ms after the epoch ended${change}`
  }

  async #failedLine (e: EpochSummary): Promise<string> {
    const progress = await this.#progress(e.epoch)
    const reasons = progress.filter((p) => p.progress?.state === 'failed').map((p) => `${p.name}: ${p.progress?.reason ?? ''}`)
    if (e.reason != null) reasons.unshift(`coordinator: ${e.reason}`)
    return `epoch ${e.epoch}: NOT committed${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`
  }
}
