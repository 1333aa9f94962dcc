import type { DeliveredBlock } from '../broadcast/application.js'

/**
 * What the broadcast engine told this node about recent epochs: the certified block delivered for
 * each (the first one; a round has one) and whether it echoed another member's valid block.
 * Bounded by prune().
 */
export class EpochBlocks {
  readonly #delivered = new Map<number, DeliveredBlock>()
  readonly #echoed = new Set<number>()
  readonly #onChange: () => void

  constructor (onChange: () => void) {
    this.#onChange = onChange
  }

  delivered (epoch: number): DeliveredBlock | undefined {
    return this.#delivered.get(epoch)
  }

  hasDelivered (epoch: number): boolean {
    return this.#delivered.has(epoch)
  }

  /** Keeps the first certified block of an epoch; false when the epoch already had one. */
  deliver (epoch: number, block: DeliveredBlock): boolean {
    if (this.#delivered.has(epoch)) return false
    this.#delivered.set(epoch, block)
    this.#onChange()
    return true
  }

  echoed (epoch: number): boolean {
    return this.#echoed.has(epoch)
  }

  markEchoed (epoch: number): void {
    this.#echoed.add(epoch)
    this.#onChange()
  }

  /** Forgets epochs below `epoch`. */
  pruneBelow (epoch: number): void {
    for (const e of this.#delivered.keys()) if (e < epoch) this.#delivered.delete(e)
    for (const e of this.#echoed) if (e < epoch) this.#echoed.delete(e)
  }

  stats (): { delivered: number, echoed: number } {
    return { delivered: this.#delivered.size, echoed: this.#echoed.size }
  }
}
