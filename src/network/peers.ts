/**
 * What the protocol layers (reliable broadcast, the rewards application) need from the network,
 * as two small interfaces: authenticated request/response between members, and topic gossip. The
 * node implements them over libp2p (libp2p-peers.ts, libp2p-gossip.ts); tests run the same
 * protocol code over an in-memory network (test/helpers/memory-network.ts). Peers are named by
 * their 32-byte Ed25519 public keys; the sender of anything received is the authenticated peer,
 * never a field of the message.
 */

export interface RequestOptions {
  /** Aborts the request (shutdown). */
  signal?: AbortSignal
  /** Deadline of each step (open, write, read). */
  timeoutMs: number
  /** A longer response is refused. */
  maxResponseBytes: number
}

export interface ServeOptions {
  /** A longer request is refused before it is handled. */
  maxRequestBytes: number
  /** Deadline for reading the request and writing the answer. */
  timeoutMs: number
  /** Most concurrent requests of this protocol per connection. */
  maxStreams?: number
}

/** Answers one request from `from`; a thrown error resets the stream (the requester sees a failure). */
export type RequestHandler = (from: Uint8Array, request: Uint8Array) => Promise<Uint8Array>

export interface PeerNetwork {
  /** This node's public key. */
  readonly self: Uint8Array
  /** One request frame, one response frame. Rejects when the peer is unreachable or refuses. */
  request: (peer: Uint8Array, protocol: string, payload: Uint8Array, opts: RequestOptions) => Promise<Uint8Array>
  handle: (protocol: string, opts: ServeOptions, handler: RequestHandler) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  isConnected: (peer: Uint8Array) => boolean
  /** Called when a connection to `peer` opens; returns the unsubscribe function. */
  onConnect: (listener: (peer: Uint8Array) => void) => () => void
}

/**
 * A gossip validator's verdict: `reject` only for content that is invalid in itself (it penalises
 * the peer that forwarded it); `ignore` for duplicates, stale content and local trouble.
 */
export type GossipVerdict = 'accept' | 'ignore' | 'reject'

/**
 * What a validator makes of a message: accepted, with the value it decoded and checked (handed
 * to `deliver`, so an accepted message is not decoded and checked again), or ignored or rejected.
 */
export type GossipValidation<T> = { accept: T } | 'ignore' | 'reject'

/**
 * Gossip carries only self-authenticating content (signed reports, signed client messages): a
 * message says nothing of who published or forwarded it, and handlers judge the content alone.
 */
export interface GossipHandlers<T> {
  /** Runs before a message is accepted and forwarded. */
  validate: (data: Uint8Array) => GossipValidation<T> | Promise<GossipValidation<T>>
  /** An accepted message: the value its validation gave. */
  deliver: (value: T) => void
}

/** The verdict of a validation. */
export function verdictOf<T> (v: GossipValidation<T>): GossipVerdict {
  return typeof v === 'string' ? v : 'accept'
}

export interface Gossip {
  subscribe: <T>(topic: string, handlers: GossipHandlers<T>) => void
  unsubscribe: (topic: string) => void
  /** Publishes to the topic's peers (resolves even when nobody is subscribed yet). */
  publish: (topic: string, data: Uint8Array) => Promise<void>
}
