/**
 * How long a proposer of rank k waits for the epoch's leader (rank 0) before proposing its own
 * block: k × δ, where δ follows the RBC time this node has measured rather than a fixed share of
 * the epoch. A fixed δ (L/10) is shorter than one RBC once N grows or epochs are short, and then
 * every rank proposes in turn before the leader's PROPOSE has even arrived: N blocks, N RBC
 * instances, N times the messages. Measured: δ = max(L/10, 1.5 × the slowest of the last samples
 * of "this node reached the report threshold → the leader's block delivered here"), capped so
 * that rank 1 still proposes well within the epoch deadline when the leader is really silent.
 *
 * Only epochs the leader's own block decided are sampled: an epoch decided by a fallback proposer
 * took δ longer by construction, and sampling it would feed δ back into itself. Pure: the caller
 * records samples and asks for δ.
 */
export class ProposerTiming {
  readonly #samples: number[] = []
  readonly #window: number

  /** `window`: samples kept (the newest). */
  constructor (window = 8) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError('window must be a positive integer')
    this.#window = window
  }

  /** One epoch decided by its leader's block: ms from this node's threshold to the block's delivery here. */
  record (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    this.#samples.push(ms)
    if (this.#samples.length > this.#window) this.#samples.shift()
  }

  get samples (): readonly number[] {
    return this.#samples
  }

  /**
   * δ for an epoch: at least `floorMs` (the preset's proposer stagger), 1.5 × the slowest recent
   * sample, at most `epochDeadlineMs / 4`.
   */
  stagger (floorMs: number, epochDeadlineMs: number): number {
    const slowest = this.#samples.length === 0 ? 0 : Math.max(...this.#samples)
    return Math.round(Math.min(Math.max(floorMs, 1.5 * slowest), Math.max(floorMs, epochDeadlineMs / 4)))
  }
}

/** Rank of `self` among `members` (public keys, hex) for an epoch: sorted by key, rotating with the epoch; 0 is the leader. */
export function proposerRank (members: readonly string[], self: string, epoch: number): number {
  const sorted = [...members].sort()
  const n = sorted.length
  const index = sorted.indexOf(self)
  if (index < 0 || n === 0) return n
  return (index - (epoch % n) + n) % n
}

/** The epoch's leader (rank 0) among `members`. */
export function epochLeader (members: readonly string[], epoch: number): string | undefined {
  const sorted = [...members].sort()
  return sorted[epoch % sorted.length]
}
