import { envelopeBytes, type Envelope } from './wire.js'

/**
 * What the transport counts, by type (a fixed set, docs/PROTOCOL.md §4): the RBC messages
 * (`propose`, `echo`, `ready`), the acknowledgements of their frames (`ack`), and the block fetch
 * (`fetch`), sync list (`sync`) and certified block (`certified`) requests.
 */
export const TRAFFIC_TYPES = ['propose', 'echo', 'ready', 'ack', 'fetch', 'sync', 'certified'] as const
export type TrafficType = (typeof TRAFFIC_TYPES)[number]
/** The types that count messages: RBC messages, and requests (sent: made; received: served). Acks have bytes only. */
export const MESSAGE_TYPES: readonly TrafficType[] = TRAFFIC_TYPES.filter((t) => t !== 'ack')

export type TrafficCounts = Record<TrafficType, { messages: number, bytes: number }>

/** Cumulative traffic in each direction since the start. */
export interface Traffic {
  sent: TrafficCounts
  received: TrafficCounts
}

function zero (): TrafficCounts {
  return Object.fromEntries(TRAFFIC_TYPES.map((t) => [t, { messages: 0, bytes: 0 }])) as TrafficCounts
}

/**
 * Counts the transport's traffic by type. Bytes are frame payloads (the length prefix and libp2p's
 * own overhead not included): a batch frame's bytes are split by the messages in it, each with
 * its own encoding, the frame's few header bytes going with its first message, so that the bytes
 * of all types add up to the frames'.
 */
export class TrafficCounter {
  readonly #traffic: Traffic = { sent: zero(), received: zero() }

  count (direction: keyof Traffic, type: TrafficType, messages: number, bytes: number): void {
    const counts = this.#traffic[direction][type]
    counts.messages += messages
    counts.bytes += bytes
  }

  /** A batch frame of `envelopes` (the messages in it that decoded), `frameBytes` long. */
  batch (direction: keyof Traffic, envelopes: readonly Envelope[], frameBytes: number): void {
    const first = envelopes[0]
    if (first == null) return
    let rest = frameBytes
    for (const e of envelopes) {
      const bytes = envelopeBytes(e)
      this.count(direction, e.message.type, 1, bytes)
      rest -= bytes
    }
    // the frame's header (and any messages in it that did not decode) counts with its first message
    this.count(direction, first.message.type, 0, Math.max(0, rest))
  }

  snapshot (): Traffic {
    return structuredClone(this.#traffic)
  }
}
