import { verifySignature } from '../crypto/keys.js'
import { checkEvidence, type EvidenceJson } from '../epochs/evidence.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { CoordinatorClient } from './coordinator-client.js'

/** Evidence waiting to be sent (a flood of equivocations cannot grow it). */
const MAX_PENDING = 32
/** Hashes of evidence already sent or dropped, so the same pair is sent once. */
const MAX_SEEN = 1024
const MAX_ATTEMPTS = 10

/**
 * Sends equivocation evidence this node holds (two conflicting signed reports, or proposals) to
 * the coordinator, which bans the signer (docs/PROTOCOL.md §7.7). Pairs that do not prove
 * anything (the same report at two timestamps) are checked here first and never sent. What the
 * coordinator cannot be reached for stays pending (bounded) and is retried by flush().
 */
export class EvidenceSubmitter {
  readonly #client: CoordinatorClient
  readonly #logger: Logger
  readonly #pending = new Map<string, { evidence: EvidenceJson, attempts: number }>()
  readonly #seen = new Set<string>()

  constructor (client: CoordinatorClient, logger: Logger) {
    this.#client = client
    this.#logger = logger
  }

  get pending (): number {
    return this.#pending.size
  }

  /** Queues evidence (if it proves an equivocation) and tries to send it at once. */
  async submit (evidence: EvidenceJson, signal: AbortSignal): Promise<void> {
    const checked = checkEvidence(evidence, verifySignature)
    if (!checked.ok) {
      this.#logger.debug({ reason: checked.reason }, 'conflicting messages that prove no equivocation: not sent')
      return
    }
    if (this.#seen.has(checked.hash) || this.#pending.has(checked.hash)) return
    if (this.#pending.size >= MAX_PENDING) return
    this.#pending.set(checked.hash, { evidence, attempts: 0 })
    await this.#send(checked.hash, signal)
  }

  /** Tries everything pending once more; keeps what could not be sent (up to MAX_ATTEMPTS tries each). */
  async flush (signal: AbortSignal): Promise<void> {
    for (const hash of [...this.#pending.keys()]) {
      if (signal.aborted) return
      await this.#send(hash, signal)
    }
  }

  async #send (hash: string, signal: AbortSignal): Promise<void> {
    const item = this.#pending.get(hash)
    if (item == null) return
    item.attempts++
    try {
      const banned = await this.#client.evidence(item.evidence, signal)
      this.#logger.info({ kind: item.evidence.kind, evidence: hash, banned }, banned ? 'equivocation evidence sent: the coordinator banned the signer' : 'equivocation evidence sent: the signer was banned already')
      this.#done(hash)
    } catch (err) {
      if (item.attempts >= MAX_ATTEMPTS) {
        this.#logger.warn({ kind: item.evidence.kind, evidence: hash, err: errorMessage(err) }, 'giving up on sending equivocation evidence')
        this.#done(hash)
      }
    }
  }

  #done (hash: string): void {
    this.#pending.delete(hash)
    if (this.#seen.size >= MAX_SEEN) this.#seen.clear()
    this.#seen.add(hash)
  }
}
