import { verifySignature } from '../crypto/keys.js'
import type { ProposalEquivocation } from '../broadcast/index.js'
import { toHex } from '../codec/bytes.js'
import { checkEvidence, type EvidenceJson, type EvidenceKind, type SignedVoteJson } from '../epochs/evidence.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { CoordinatorClient } from './coordinator-client.js'

/** Evidence waiting to be sent (a flood of equivocations cannot grow it). */
const MAX_PENDING = 32
/** Hashes of evidence already sent or dropped, so the same pair is sent once. */
const MAX_SEEN = 1024
const MAX_ATTEMPTS = 10

/** What became of a piece of evidence: checked and queued, taken by the coordinator, or given up on. */
export interface EvidenceEvent {
  status: 'detected' | 'sent' | 'dropped'
  kind: EvidenceKind
  /** evidence_hash */
  hash: string
  /** The signer that equivocated (public key, hex), and the epoch or RBC round. */
  offender: string
  epoch: number
  /** sent: whether it banned the offender (false: banned already). */
  banned?: boolean
  /** dropped: the last error. */
  reason?: string
}

/** The evidence of two conflicting signed proposals or READYs the broadcast engine saw. */
export function equivocationEvidence (e: ProposalEquivocation): EvidenceJson {
  const vote = (p: { hash: Uint8Array, signature: Uint8Array }): SignedVoteJson => ({ round: e.round, creator: toHex(e.creator), hash: toHex(p.hash), signer: toHex(e.signer), signature: toHex(p.signature) })
  return { kind: e.kind === 'ready' ? 'ready-equivocation' : 'proposal-equivocation', a: vote(e.first), b: vote(e.second) }
}

/** The `detected` event of evidence if it proves an equivocation, or why it does not. */
export function detectedEvidence (evidence: EvidenceJson): { ok: true, event: EvidenceEvent } | { ok: false, reason: string } {
  const checked = checkEvidence(evidence, verifySignature)
  return checked.ok ? { ok: true, event: { status: 'detected', kind: evidence.kind, hash: checked.hash, offender: checked.offender, epoch: checked.epoch } } : checked
}

/**
 * Sends equivocation evidence this node holds (two conflicting signed reports, or proposals) to
 * the coordinator, which bans the signer (docs/PROTOCOL.md §7.7). Pairs that do not prove
 * anything (the same report at two timestamps) are checked here first and never sent. What the
 * coordinator cannot be reached for stays pending (bounded) and is retried by flush().
 */
export class EvidenceSubmitter {
  readonly #client: CoordinatorClient
  readonly #logger: Logger
  readonly #pending = new Map<string, { evidence: EvidenceJson, attempts: number, detected: EvidenceEvent }>()
  readonly #seen = new Set<string>()
  readonly #onEvent: (event: EvidenceEvent) => void

  constructor (client: CoordinatorClient, logger: Logger, onEvent?: (event: EvidenceEvent) => void) {
    this.#client = client
    this.#logger = logger
    this.#onEvent = onEvent ?? (() => {})
  }

  get pending (): number {
    return this.#pending.size
  }

  /** Queues evidence (if it proves an equivocation) and tries to send it at once. */
  async submit (evidence: EvidenceJson, signal: AbortSignal): Promise<void> {
    const checked = detectedEvidence(evidence)
    if (!checked.ok) {
      this.#logger.debug({ reason: checked.reason }, 'conflicting messages that prove no equivocation: not sent')
      return
    }
    const { hash } = checked.event
    if (this.#seen.has(hash) || this.#pending.has(hash)) return
    if (this.#pending.size >= MAX_PENDING) return
    this.#pending.set(hash, { evidence, attempts: 0, detected: checked.event })
    this.#onEvent(checked.event)
    await this.#send(hash, signal)
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
      this.#onEvent({ ...item.detected, status: 'sent', banned })
    } catch (err) {
      if (item.attempts >= MAX_ATTEMPTS) {
        this.#logger.warn({ kind: item.evidence.kind, evidence: hash, err: errorMessage(err) }, 'giving up on sending equivocation evidence')
        this.#done(hash)
        this.#onEvent({ ...item.detected, status: 'dropped', reason: errorMessage(err) })
      }
    }
  }

  #done (hash: string): void {
    this.#pending.delete(hash)
    if (this.#seen.size >= MAX_SEEN) this.#seen.clear()
    this.#seen.add(hash)
  }
}
