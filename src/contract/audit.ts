import type { ItemResult } from '../epochs/requests.js'
import { errorMessage, isEphemeraError } from '../util/errors.js'
import type { Logger } from '../util/logger.js'

/** Counts a decision (metrics); a refusal carries its error code (ERR_INTERNAL for an unexpected fault). */
export type DecisionCounter = (decision: string, outcome: 'accepted' | 'refused', code?: string) => void

/**
 * The coordinator's audit trail: one info line per decision on a signed request — a lease, a
 * contribution or verification per chunk, a whole submission, a queue or operator request —
 * accepted or refused with the reason. (Rounds' own transitions — lease expiry, rollback, commit —
 * and committee changes are logged where they happen.)
 */
export class AuditTrail {
  readonly #logger: Logger | undefined
  readonly #count: DecisionCounter

  constructor (logger?: Logger, count?: DecisionCounter) {
    this.#logger = logger?.child({ module: 'audit' })
    this.#count = count ?? (() => {})
  }

  /** Runs a decision and logs its outcome (per item for a batch); refusals are rethrown. */
  async decide<T> (what: string, fields: Record<string, unknown>, run: () => Promise<T>, items?: (answer: T) => ReadonlyArray<ItemResult<unknown>>): Promise<T> {
    let answer: T
    try {
      answer = await run()
    } catch (err) {
      const code = isEphemeraError(err) ? err.code : undefined
      this.#logger?.info({ audit: what, ...fields, outcome: 'refused', code, reason: errorMessage(err) }, `${what} refused: ${errorMessage(err)}`)
      this.#count(what, 'refused', code ?? 'ERR_INTERNAL')
      throw err
    }
    const each = items?.(answer)
    if (each == null) {
      this.#logger?.info({ audit: what, ...fields, outcome: 'accepted' }, `${what} accepted`)
      this.#count(what, 'accepted')
      return answer
    }
    this.items(what, fields, each)
    return answer
  }

  /** Logs and counts the outcome of each item of a batch decided already (a line per chunk). */
  items (what: string, fields: Record<string, unknown>, each: ReadonlyArray<ItemResult<unknown>>): void {
    for (const r of each) {
      if (r.ok) {
        this.#count(what, 'accepted')
        this.#logger?.info({ audit: what, ...fields, chunk: r.chunk, outcome: 'accepted' }, `${what} accepted (chunk ${r.chunk})`)
      } else {
        this.#count(what, 'refused', r.code)
        this.#logger?.info({ audit: what, ...fields, chunk: r.chunk, outcome: 'refused', code: r.code, reason: r.message }, `${what} refused (chunk ${r.chunk}): ${r.message}`)
      }
    }
  }
}
