/**
 * When a member of rank k proposes its own block if the epoch's leader (rank 0) has not got one
 * certified: fallbackDelay() after reaching the report threshold, unless it has a block delivered
 * or has echoed another member's. Two things decide it:
 *
 * - δ (the stagger) follows the RBC time this node has measured rather than a fixed share of the
 *   epoch. A fixed δ (L/10) is shorter than one RBC once N grows or epochs are short, and then
 *   every rank proposes in turn before the leader's PROPOSE has even arrived: N blocks, N RBC
 *   instances, N times the messages, and the load that makes the next leader late too. δ =
 *   max(L/10, 1.5 × the slowest of the last samples of "this node reached the report threshold →
 *   the leader's block delivered here"), capped so that rank 1 still proposes well within the
 *   epoch deadline when the leader is really silent. A sample is taken whenever the leader's
 *   block is delivered, also after a fallback proposer's block decided the epoch: that is the
 *   leader's RBC time under the load of the moment, so an overloaded network widens δ until one
 *   block per epoch is all it carries (sampling only epochs the leader decided would leave δ at
 *   its floor for as long as fallbacks kept the leader from deciding one).
 * - Whether the leader is alive: its report for the epoch has reached this node. A leader that
 *   reported is computing or gathering like everyone else, and is given a quarter of the epoch
 *   deadline before rank 1 takes over (ranks after it δ apart); a leader that sent nothing is
 *   replaced after rank × δ.
 *
 * Pure: the caller records samples and asks for δ and the delay.
 */
/** A quarter of the epoch deadline: the cap on δ, and the patience given to a leader known to be alive. */
const quarter = (epochDeadlineMs: number): number => epochDeadlineMs / 4

export class ProposerTiming {
  readonly #samples: number[] = []
  readonly #window: number

  /** `window`: samples kept (the newest). */
  constructor (window = 8) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError('window must be a positive integer')
    this.#window = window
  }

  /** The epoch's leader's block delivered here `ms` after this node reached the report threshold (first block of the epoch or not). */
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
    return Math.round(Math.min(Math.max(floorMs, 1.5 * slowest), Math.max(floorMs, quarter(epochDeadlineMs))))
  }
}

/**
 * ms after reaching the report threshold at which a member of `rank` proposes its own block
 * (when nothing was delivered or echoed by then): 0 for the leader; rank × δ while the leader has
 * sent nothing this epoch; once its report is here, a quarter of the epoch deadline (at least δ)
 * before rank 1, ranks after it δ apart.
 */
export function fallbackDelay (rank: number, stagger: number, leaderAlive: boolean, epochDeadlineMs: number): number {
  if (rank <= 0) return 0
  if (!leaderAlive) return rank * stagger
  return Math.round(Math.max(stagger, quarter(epochDeadlineMs))) + (rank - 1) * stagger
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
