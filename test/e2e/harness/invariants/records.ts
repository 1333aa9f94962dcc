import { isDeepStrictEqual } from 'node:util'
import type { Checker, RunContext } from '../context.js'
import { getOrNull, mapLimit, tryGetJson } from '../http.js'
import { waitUntil } from '../wait.js'

/**
 * Coordinator records (rewards):
 * - at most one accepted record per epoch, and nothing acknowledged is lost: every record the
 *   coordinator ever served stays served, identical, for the rest of the run (across restarts);
 * - every honest node's official record for an epoch equals the coordinator's, and at the end
 *   every honest node running stores it (epochs it missed while down are adopted within its
 *   look-back of 10 epochs);
 * - at most one node was told "accepted" for an epoch, and that node is the record's winner.
 */

interface Summary { epoch: number, status: string, blockHash?: string | null, winner?: string, acceptedAt?: number, latencyMs?: number }
export interface RecordJson { epoch: number, startMs: number, endMs: number, submission: { blockHash: string | null }, winner: { name: string }, acceptedAt: number, latencyMs: number }
interface NodeEpochView { progress: { state: string, submission?: string } | null, official: RecordJson | null }

const LOOK_BACK_EPOCHS = 10

export class RecordsChecker implements Checker {
  readonly name = 'records'
  readonly intervalMs = 500
  /** Every record the coordinator served, by epoch, as first seen. */
  readonly seen = new Map<number, RecordJson>()
  /** Node → epochs whose official record was compared equal. */
  readonly #matched = new Map<string, Set<number>>()
  readonly #acceptedBy = new Map<number, Set<string>>()
  #comparisons = 0
  listFailures = 0
  #lastClaims = 0
  /** (epoch, node) pairs where the coordinator answered the node's submission with 200. */
  readonly #claims = new Map<string, { epoch: number, node: string }>()
  lastListAt = 0
  #lastFullCheck = 0
  #fullChecks = 0

  async poll (ctx: RunContext): Promise<void> {
    const c = ctx.cluster
    if (c.coordinator?.running !== true || c.coordinator.paused) return
    const list = await tryGetJson<{ currentEpoch: number, epochs: Summary[] }>(`${c.contractUrl}/contract/epochs?limit=100`, 2_000)
    if (list == null) {
      this.listFailures++
      return
    }
    this.lastListAt = Date.now()
    for (const s of list.epochs) {
      const known = this.seen.get(s.epoch)
      if (s.status === 'committed') {
        if (known == null) {
          const record = await tryGetJson<RecordJson>(`${c.contractUrl}/contract/epochs/${s.epoch}`, 1_500)
          if (record != null) this.seen.set(s.epoch, record)
        } else if (s.blockHash !== known.submission.blockHash || s.winner !== known.winner.name || s.acceptedAt !== known.acceptedAt) {
          ctx.violation(this.name, `epoch ${s.epoch}: the coordinator's record changed (block ${short(known.submission.blockHash)} won by ${known.winner.name} → block ${short(s.blockHash)} won by ${s.winner ?? '?'})`)
        }
      } else if (known != null) {
        ctx.violation(this.name, `epoch ${s.epoch}: the record the coordinator served earlier (block ${short(known.submission.blockHash)}, winner ${known.winner.name}) is gone (status now ${s.status})`)
      }
    }
    if (Date.now() - this.#lastFullCheck > 10_000) {
      this.#lastFullCheck = Date.now()
      await this.#recheckAll(ctx)
    }
    await this.#compareNodes(ctx)
    if (Date.now() - this.#lastClaims > 2_000) {
      this.#lastClaims = Date.now()
      await this.#collectClaims(ctx)
    }
  }

  /** Which node was answered 200 ("accepted") for which epoch, from the nodes' pipeline state. */
  async #collectClaims (ctx: RunContext): Promise<void> {
    const c = ctx.cluster
    await Promise.all(c.names.map(async (name) => {
      const p = c.node(name)
      if (!p.running || p.paused || ctx.byzantine.has(name)) return
      const status = await tryGetJson<{ recent: Array<{ epoch: number, submission?: string }> }>(`${c.url(name)}/ephemera/rewards/status`, 2_000)
      for (const r of status?.recent ?? []) {
        if (r.submission === 'accepted') this.#claims.set(`${r.epoch}:${name}`, { epoch: r.epoch, node: name })
      }
    }))
  }

  /** Re-reads every record seen so far; any change or loss is a violation. */
  async #recheckAll (ctx: RunContext): Promise<boolean> {
    const c = ctx.cluster
    let complete = true
    await mapLimit([...this.seen.entries()], 4, async ([epoch, record]) => {
      const now = await getOrNull<RecordJson>(`${c.contractUrl}/contract/epochs/${epoch}`, 2_000)
      if (now === undefined) {
        complete = false
        return
      }
      if (now === null) ctx.violation(this.name, `epoch ${epoch}: the record the coordinator served earlier (block ${short(record.submission.blockHash)}, winner ${record.winner.name}) is gone (404)`)
      else if (!isDeepStrictEqual(now, record)) ctx.violation(this.name, `epoch ${epoch}: the coordinator's record changed (${describeDiff(record, now)})`)
    })
    if (complete) this.#fullChecks++
    return complete
  }

  async #compareNodes (ctx: RunContext): Promise<void> {
    const c = ctx.cluster
    for (const name of c.names) {
      const p = c.node(name)
      if (!p.running || p.paused || ctx.byzantine.has(name)) continue
      const matched = this.#matched.get(name) ?? new Set<number>()
      this.#matched.set(name, matched)
      const todo = [...this.seen.keys()].filter((e) => e > ctx.base && !matched.has(e)).sort((a, b) => b - a).slice(0, 6)
      for (const epoch of todo) {
        const view = await getOrNull<NodeEpochView>(`${c.url(name)}/ephemera/rewards/epochs/${epoch}`, 1_500)
        if (view == null) continue
        this.#checkView(ctx, name, epoch, view)
      }
    }
  }

  #checkView (ctx: RunContext, name: string, epoch: number, view: NodeEpochView): boolean {
    const record = this.seen.get(epoch)
    if (record == null) return false
    if (view.progress?.submission === 'accepted') {
      const by = this.#acceptedBy.get(epoch) ?? new Set<string>()
      by.add(name)
      this.#acceptedBy.set(epoch, by)
      if (by.size > 1) ctx.violation(this.name, `epoch ${epoch}: more than one node was told its submission was accepted: ${[...by].join(', ')}`)
      if (name !== record.winner.name) ctx.violation(this.name, `epoch ${epoch}: ${name} was told "accepted", but the record's winner is ${record.winner.name}`)
    }
    if (view.official == null) return false
    this.#comparisons++
    if (!isDeepStrictEqual(view.official, record)) {
      ctx.violation(this.name, `epoch ${epoch}: ${name}'s official record differs from the coordinator's (${describeDiff(record, view.official)})`)
      return false
    }
    this.#matched.get(name)?.add(epoch)
    return true
  }

  /** Epochs > base with a record. */
  committed (ctx: RunContext): number[] {
    return [...this.seen.keys()].filter((e) => e > ctx.base).sort((a, b) => a - b)
  }

  async final (ctx: RunContext): Promise<void> {
    const c = ctx.cluster
    if (c.coordinator?.running !== true || c.coordinator.paused) {
      ctx.violation(this.name, 'the coordinator is not running at the end: records cannot be re-checked')
      return
    }
    await this.poll(ctx)
    if (!await this.#recheckAll(ctx)) ctx.violation(this.name, 'the coordinator did not answer the final re-check of its records')
    // every submission the coordinator acknowledged (200) is a record it still serves
    await this.#collectClaims(ctx)
    for (const { epoch, node } of this.#claims.values()) {
      const record = await getOrNull<RecordJson>(`${c.contractUrl}/contract/epochs/${epoch}`, 2_000)
      if (record === null) ctx.violation(this.name, `epoch ${epoch}: the coordinator answered ${node}'s submission with 200 (accepted), but now has no record for it`)
      else if (record != null && record.winner.name !== node) ctx.violation(this.name, `epoch ${epoch}: the coordinator answered ${node}'s submission with 200, but its record names ${record.winner.name} as the winner`)
    }
    // every honest node running at the end stores every record it was up for (or could adopt)
    const required = new Map<string, number[]>()
    for (const name of c.names) {
      const p = c.node(name)
      if (!p.running || p.paused || ctx.byzantine.has(name) || ctx.ledger.isFaulty(name)) continue
      const epochs = this.committed(ctx).filter((e) => {
        // a node stores e's record from its pipeline for e or, if that failed or it was away, from
        // its look-back over the 10 epochs after e: promised if, during one whole epoch of those,
        // both it and the coordinator were up
        for (let x = e + 1; x <= e + LOOK_BACK_EPOCHS; x++) {
          const [from, to] = [c.epochStart(x), c.epochEnd(x)]
          if (to > Date.now()) break
          if (!ctx.ledger.faultyDuring(name, from, to) && !ctx.ledger.faultyDuring('coordinator', from, to)) return true
        }
        return false
      })
      required.set(name, epochs.filter((e) => this.#matched.get(name)?.has(e) !== true))
    }
    const deadlineMs = 3 * c.epochMs + 30_000
    try {
      await waitUntil(async () => {
        for (const [name, epochs] of required) {
          const left: number[] = []
          for (const epoch of epochs) {
            const view = await getOrNull<NodeEpochView>(`${c.url(name)}/ephemera/rewards/epochs/${epoch}`, 2_000)
            if (view == null || !this.#checkView(ctx, name, epoch, view)) left.push(epoch)
          }
          required.set(name, left)
        }
        return [...required.values()].every((l) => l.length === 0)
      }, { timeoutMs: deadlineMs, intervalMs: 1_000, what: 'every honest node to store every official record' })
    } catch {
      for (const [name, epochs] of required) {
        if (epochs.length > 0) ctx.violation(this.name, `${name} does not store the official record of epoch${epochs.length > 1 ? 's' : ''} ${epochs.join(', ')} ${deadlineMs / 1000} s after the end`)
      }
    }
  }

  summary (): string {
    return `${this.seen.size} records stable (${this.#fullChecks} re-reads), ${this.#claims.size} acknowledged kept, ${this.#comparisons} official copies equal`
  }
}

export function short (hash: string | null | undefined): string {
  return hash == null ? 'none' : hash.slice(0, 12)
}

function describeDiff (a: RecordJson, b: RecordJson): string {
  const parts: string[] = []
  if (a.submission.blockHash !== b.submission.blockHash) parts.push(`block ${short(a.submission.blockHash)} vs ${short(b.submission.blockHash)}`)
  if (a.winner.name !== b.winner.name) parts.push(`winner ${a.winner.name} vs ${b.winner.name}`)
  if (a.acceptedAt !== b.acceptedAt) parts.push(`acceptedAt ${a.acceptedAt} vs ${b.acceptedAt}`)
  return parts.length > 0 ? parts.join(', ') : 'same block and winner, other fields differ'
}
