import { verdictOf, type GossipHandlers, type GossipVerdict } from '../../src/network/peers.js'

/** A subscriber's handlers driven by bytes, as a gossip layer drives them. */
export interface DrivenHandlers {
  /** The verdict on `data`; an accepting validation's value is kept for that message. */
  validate: (data: Uint8Array) => Promise<GossipVerdict>
  /** Delivers the message `data`, with the value its accepting validation gave. */
  deliver: (data: Uint8Array) => void
}

/**
 * For tests that play the gossip layer: as src/network/libp2p-gossip.ts does with each message,
 * the value an accepting validator gives is handed to `deliver` with that same message (the same
 * bytes object); delivering a message that was not accepted is a test error.
 */
export function drive<T> (handlers: GossipHandlers<T>): DrivenHandlers {
  const accepted = new WeakMap<Uint8Array, T>()
  return {
    validate: async (data) => {
      const validation = await handlers.validate(data)
      if (typeof validation !== 'string') accepted.set(data, validation.accept)
      return verdictOf(validation)
    },
    deliver: (data) => {
      if (!accepted.has(data)) throw new Error('delivering a message its validator did not accept')
      handlers.deliver(accepted.get(data) as T)
    }
  }
}
