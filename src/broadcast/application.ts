import type { Block, Certificate, ClientMessage } from '../block/types.js'

/**
 * The hooks an application plugs into the broadcast engine (like Ephemera's Application trait):
 * checkTx before a client message enters the mempool, checkBlock before this node echoes a
 * proposal (and before it proposes its own), deliverBlock once a block is certified and stored.
 * checkBlock must be deterministic: members that disagree on it cannot reach a quorum.
 */

export type Verdict = { accept: true } | { accept: false, reason: string }

export const ACCEPT: Verdict = { accept: true }

export function reject (reason: string): Verdict {
  return { accept: false, reason }
}

export interface DeliveredBlock {
  hash: Uint8Array
  block: Block
  certificate: Certificate
  /** Position in this node's delivered log. */
  localHeight: number
}

export interface Application {
  checkTx: (message: ClientMessage) => Verdict | Promise<Verdict>
  checkBlock: (block: Block, context: { local: boolean }) => Verdict | Promise<Verdict>
  deliverBlock: (delivered: DeliveredBlock) => void | Promise<void>
  /** This node just echoed another member's proposal (its signature and content checked). */
  onEcho?: (block: Block, hash: Uint8Array) => void
}

export interface DefaultApplicationOptions {
  /** Messages whose timestamp is further than this from now are refused. */
  maxClockSkewMs: number
  now?: () => number
}

/**
 * Accepts any well-signed message whose timestamp is within the clock-skew window (which, with
 * the delivered-message index, keeps old messages from being replayed), and every block.
 */
export class DefaultApplication implements Application {
  readonly #opts: DefaultApplicationOptions

  constructor (opts: DefaultApplicationOptions) {
    this.#opts = opts
  }

  checkTx (message: ClientMessage): Verdict {
    const now = (this.#opts.now ?? Date.now)()
    const skew = message.timestamp - now
    if (Math.abs(skew) > this.#opts.maxClockSkewMs) {
      return reject(`timestamp is ${Math.round(Math.abs(skew) / 1000)} s in the ${skew > 0 ? 'future' : 'past'}; the limit is ${Math.round(this.#opts.maxClockSkewMs / 1000)} s`)
    }
    if (message.label.length === 0) return reject('label must not be empty')
    return ACCEPT
  }

  checkBlock (): Verdict {
    return ACCEPT
  }

  deliverBlock (): void {}
}
