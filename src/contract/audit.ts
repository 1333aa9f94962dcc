import type { ItemResult } from '../epochs/requests.js'
import { errorMessage, isEphemeraError } from '../util/errors.js'
import type { Logger } from '../util/logger.js'

/**
 * The coordinator's audit trail: one info line per decision on a signed request — a lease, a
 * contribution or verification per chunk, a whole submission, a queue or operator request —
 * accepted or refused with the reason. (Rounds' own transitions — lease expiry, rollback, commit —
 * and committee changes are logged where they happen.)
 */
export class AuditTrail {
  readonly #logger: Logger | undefined
  readonly #count: (decision: string, outcome: 'accepted' | 'refused') => void

  constructor (logger?: Logger, count?: (decision: string, outcome: 'accepted' | 'refused') => void) {
    this.#logger = logger?.child({ module: 'audit' })
    this.#count = count ?? (() => {})
  }

  /** Runs a decision and logs its outcome (per item for a batch); refusals are rethrown. */
  async decide<T> (what: string, fields: Record<string, unknown>, run: () => Promise<T>, items?: (answer: T) => ReadonlyArray<ItemResult<unknown>>): Promise<T> {
    let answer: T
    try {
      answer = await run()
    } catch (err) {
      this.#logger?.info({ audit: what, ...fields, outcome: 'refused', code: isEphemeraError(err) ? err.code : undefined, reason: errorMessage(err) }, `${what} refused: ${errorMessage(err)}`)
      this.#count(what, 'refused')
      throw err
    }
    const each = items?.(answer)
    if (each == null) {
      this.#logger?.info({ audit: what, ...fields, outcome: 'accepted' }, `${what} accepted`)
      this.#count(what, 'accepted')
      return answer
    }
    for (const r of each) {
      this.#count(what, r.ok ? 'accepted' : 'refused')
      if (r.ok) this.#logger?.info({ audit: what, ...fields, chunk: r.chunk, outcome: 'accepted' }, `${what} accepted (chunk ${r.chunk})`)
      else this.#logger?.info({ audit: what, ...fields, chunk: r.chunk, outcome: 'refused', code: r.code, reason: r.message }, `${what} refused (chunk ${r.chunk}): ${r.message}`)
    }
    return answer
  }
}
