import type { Checker, RunContext } from '../context.js'
import { HttpError, getJson } from '../http.js'
import { short } from './records.js'

/**
 * Each node's own persisted votes (GET /ephemera/broadcast/votes → {votes: [{round, creator,
 * kind, hash}]}): over the whole run, across restarts, no (round, creator, kind) of one node ever
 * maps to two hashes. Votes may be pruned (gone is fine); changed is not. Where the route is
 * absent (404) this part is skipped, with a note.
 */

interface Vote { round: number, creator: string, kind: 'echo' | 'ready', hash: string }

export class OwnVotesChecker implements Checker {
  readonly name = 'own-votes'
  readonly intervalMs = 2_000
  readonly #votes = new Map<string, Map<string, string>>()
  #unsupported = false
  #answers = 0
  #checked = 0

  async poll (ctx: RunContext): Promise<void> {
    if (this.#unsupported) return
    const c = ctx.cluster
    await Promise.all(c.names.map(async (node) => {
      const p = c.node(node)
      if (!p.running || p.paused || ctx.byzantine.has(node)) return
      let answer: { votes: Vote[] }
      try {
        answer = await getJson<{ votes: Vote[] }>(`${c.url(node)}/ephemera/broadcast/votes`, 5_000)
      } catch (err) {
        if (err instanceof HttpError && err.status === 404 && this.#answers === 0) {
          if (!this.#unsupported) ctx.note('GET /ephemera/broadcast/votes answers 404 on this build: the own-votes check is skipped')
          this.#unsupported = true
        }
        return
      }
      this.#answers++
      const mine = this.#votes.get(node) ?? new Map<string, string>()
      this.#votes.set(node, mine)
      for (const v of answer.votes) {
        this.#checked++
        const key = `${v.round}:${v.creator}:${v.kind}`
        const before = mine.get(key)
        if (before == null) mine.set(key, v.hash)
        else if (before !== v.hash) ctx.violation(this.name, `${node} voted ${v.kind.toUpperCase()} for two hashes of round ${v.round} of ${v.creator.slice(0, 16)}: ${short(before)} then ${short(v.hash)}`)
      }
    }))
  }

  async final (ctx: RunContext): Promise<void> {
    await this.poll(ctx)
  }

  summary (): string {
    if (this.#unsupported) return 'skipped (no /votes route)'
    const distinct = [...this.#votes.values()].reduce((n, m) => n + m.size, 0)
    return `${distinct} own votes stable`
  }
}
