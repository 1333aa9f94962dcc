import type { Checker, RunContext } from '../context.js'
import { tryGetJson } from '../http.js'
import type { RecordsChecker } from './records.js'

/**
 * After a node returns (restart, SIGCONT, partition healed) it catches up within `withinMs`:
 * - rewards: its last committed epoch reaches the coordinator's latest settled one (accepted at
 *   least 2 s ago), which is an epoch that began after the node returned;
 * - messages: it stores every block a healthy member had delivered when the node returned.
 * A node that is hit by another fault before it caught up is not judged for that return; time
 * during which nobody could commit (coordinator down, no quorum) does not count.
 */

interface Pending {
  node: string
  since: number
  reference?: Promise<Set<string> | undefined>
}

export class CatchUpChecker implements Checker {
  readonly name = 'catch-up'
  readonly intervalMs = 500
  readonly withinMs: number
  readonly #records: RecordsChecker | undefined
  #pending: Pending[] = []
  readonly done: Array<{ node: string, ms: number }> = []

  constructor (withinMs: number, records: RecordsChecker | undefined) {
    this.withinMs = withinMs
    this.#records = records
  }

  /** Starts watching `node`, which has just returned. */
  track (ctx: RunContext, node: string): void {
    this.#pending = this.#pending.filter((p) => p.node !== node)
    const entry: Pending = { node, since: Date.now() }
    if (ctx.cluster.opts.app === 'messages') {
      const healthy = ctx.cluster.names.find((n) => n !== node && ctx.cluster.node(n).running && !ctx.ledger.isFaulty(n) && !ctx.byzantine.has(n))
      entry.reference = healthy == null ? Promise.resolve(undefined) : blockHashes(ctx.cluster.url(healthy))
    }
    this.#pending.push(entry)
  }

  get pending (): number {
    return this.#pending.length
  }

  async poll (ctx: RunContext): Promise<void> {
    const resolved = new Set<Pending>()
    for (const p of [...this.#pending]) {
      if (ctx.ledger.isFaulty(p.node) || !ctx.cluster.node(p.node).running) {
        resolved.add(p) // hit again before it caught up: this return is not judged
      } else if (await this.#caughtUp(ctx, p)) {
        this.done.push({ node: p.node, ms: Date.now() - p.since })
        resolved.add(p)
      } else if (Date.now() - p.since - this.#stalled(ctx, p.since) > this.withinMs) {
        ctx.violation(this.name, `${p.node} did not catch up within ${this.withinMs / 1000} s after it returned at +${((p.since - ctx.startedAt) / 1000).toFixed(1)} s (${await this.#where(ctx, p)})`)
        resolved.add(p)
      }
    }
    // entries added while this poll ran stay
    this.#pending = this.#pending.filter((p) => !resolved.has(p))
  }

  /** Time since `since` during which catching up was impossible (coordinator down, no quorum). */
  #stalled (ctx: RunContext, since: number): number {
    const now = Date.now()
    return Math.max(ctx.ledger.downtime('coordinator', since, now), ctx.ledger.downtime('network', since, now))
  }

  async #caughtUp (ctx: RunContext, p: Pending): Promise<boolean> {
    const c = ctx.cluster
    if (c.opts.app === 'messages') {
      const reference = await p.reference
      if (reference == null) return true
      const mine = await blockHashes(c.url(p.node))
      return mine != null && [...reference].every((h) => mine.has(h))
    }
    const settled = this.#settledEpoch()
    if (settled == null || c.epochStart(settled) < p.since) return false
    const last = await lastCommitted(c.url(p.node))
    return last != null && last >= settled
  }

  #settledEpoch (): number | undefined {
    const cutoff = Date.now() - 2_000
    const epochs = [...(this.#records?.seen.values() ?? [])].filter((r) => r.acceptedAt <= cutoff).map((r) => r.epoch)
    return epochs.length === 0 ? undefined : Math.max(...epochs)
  }

  async #where (ctx: RunContext, p: Pending): Promise<string> {
    if (ctx.cluster.opts.app === 'messages') {
      const reference = await p.reference
      const mine = await blockHashes(ctx.cluster.url(p.node))
      return `it has ${mine == null ? '?' : [...(reference ?? [])].filter((h) => mine.has(h)).length} of the ${reference?.size ?? '?'} blocks others had`
    }
    return `its last committed epoch is ${String(await lastCommitted(ctx.cluster.url(p.node)))}, the coordinator's ${String(this.#settledEpoch())}`
  }

  async final (ctx: RunContext): Promise<void> {
    const deadline = Date.now() + this.withinMs + 5_000
    while (this.#pending.length > 0 && Date.now() < deadline) {
      await this.poll(ctx)
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }

  summary (): string {
    if (this.done.length === 0) return 'no returns'
    return `${this.done.length} return(s) caught up ≤ ${(Math.max(...this.done.map((d) => d.ms)) / 1000).toFixed(1)} s`
  }
}

export async function lastCommitted (url: string): Promise<number | undefined> {
  const status = await tryGetJson<{ recent: Array<{ epoch: number, state: string }> }>(`${url}/ephemera/rewards/status`, 2_000)
  if (status == null) return undefined
  const committed = status.recent.filter((r) => r.state === 'committed').map((r) => r.epoch)
  return committed.length === 0 ? 0 : Math.max(...committed)
}

/** Every block hash a node has delivered. */
export async function blockHashes (url: string): Promise<Set<string> | undefined> {
  const out = new Set<string>()
  for (let from = 1; ;) {
    const list = await tryGetJson<{ blocks: Array<{ localHeight: number, hash: string }> }>(`${url}/ephemera/broadcast/blocks?from=${from}&order=asc&limit=1000`, 5_000)
    if (list == null) return undefined
    for (const b of list.blocks) out.add(b.hash)
    if (list.blocks.length < 1000) return out
    from = list.blocks.at(-1)!.localHeight + 1
  }
}
