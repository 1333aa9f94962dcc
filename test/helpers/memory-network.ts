import { toHex } from '../../src/codec/bytes.js'
import type { Gossip, GossipHandlers, GossipValidation, PeerNetwork, RequestHandler, RequestOptions, ServeOptions } from '../../src/network/peers.js'
import { AbortError } from '../../src/util/errors.js'

/**
 * An in-memory network for in-process tests of the protocol glue: every node gets a MemoryPeer
 * that implements the same PeerNetwork and Gossip interfaces the node uses over libp2p. Links can
 * be cut (a node down, or a partition) and healed; each request and gossip hop crosses a
 * macrotask (optionally a delay), so concurrency behaves like a real network. Counters record
 * what crossed it.
 */
export class MemoryNetwork {
  readonly peers = new Map<string, MemoryPeer>()
  readonly #down = new Set<string>()
  readonly #cut = new Set<string>()
  /** protocol → requests delivered; topic → gossip deliveries */
  readonly requests = new Map<string, number>()
  readonly gossiped = new Map<string, number>()
  latencyMs = 0

  join (publicKey: Uint8Array): MemoryPeer {
    const peer = new MemoryPeer(this, publicKey)
    this.peers.set(toHex(publicKey), peer)
    return peer
  }

  /** Whether a and b can talk now. */
  linked (a: Uint8Array, b: Uint8Array): boolean {
    const x = toHex(a)
    const y = toHex(b)
    return x !== y && !this.#down.has(x) && !this.#down.has(y) && !this.#cut.has(pair(x, y))
  }

  /** Takes a node off the network (as if its process were stopped). */
  down (key: Uint8Array): void {
    this.#down.add(toHex(key))
  }

  up (key: Uint8Array): void {
    this.#down.delete(toHex(key))
    for (const other of this.peers.values()) this.#connected(key, other.self)
  }

  /** Cuts every link between the two groups. */
  partition (a: readonly Uint8Array[], b: readonly Uint8Array[]): void {
    for (const x of a) for (const y of b) this.#cut.add(pair(toHex(x), toHex(y)))
  }

  heal (): void {
    const cut = [...this.#cut]
    this.#cut.clear()
    for (const link of cut) {
      const [x, y] = link.split('|')
      const a = this.peers.get(x ?? '')
      const b = this.peers.get(y ?? '')
      if (a != null && b != null) this.#connected(a.self, b.self)
    }
  }

  async hop (): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs))
  }

  count (map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1)
  }

  #connected (a: Uint8Array, b: Uint8Array): void {
    if (!this.linked(a, b)) return
    this.peers.get(toHex(a))?.connected(b)
    this.peers.get(toHex(b))?.connected(a)
  }
}

function pair (x: string, y: string): string {
  return x < y ? `${x}|${y}` : `${y}|${x}`
}

export class MemoryPeer implements PeerNetwork, Gossip {
  readonly self: Uint8Array
  readonly #net: MemoryNetwork
  readonly #handlers = new Map<string, { opts: ServeOptions, handler: RequestHandler, active: number }>()
  readonly #topics = new Map<string, GossipHandlers<unknown>>()
  readonly #connectListeners = new Set<(peer: Uint8Array) => void>()

  constructor (net: MemoryNetwork, self: Uint8Array) {
    this.#net = net
    this.self = self
  }

  async request (peer: Uint8Array, protocol: string, payload: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    if (opts.signal?.aborted === true) throw new AbortError()
    await this.#net.hop()
    const target = this.#net.peers.get(toHex(peer))
    if (target == null || !this.#net.linked(this.self, peer)) throw new Error(`peer ${toHex(peer).slice(0, 8)} unreachable`)
    const response = await target.serve(this.self, protocol, payload, opts)
    await this.#net.hop()
    if (!this.#net.linked(this.self, peer)) throw new Error('connection lost')
    if (response.length > opts.maxResponseBytes) throw new Error(`response of ${response.length} bytes over the limit`)
    return response
  }

  /** @internal runs this peer's handler for a request from `from`. */
  async serve (from: Uint8Array, protocol: string, payload: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    const entry = this.#handlers.get(protocol)
    if (entry == null) throw new Error(`protocol ${protocol} not supported`)
    if (payload.length > entry.opts.maxRequestBytes) throw new Error(`request of ${payload.length} bytes over the limit`)
    if (entry.active >= (entry.opts.maxStreams ?? 64)) throw new Error('too many streams')
    this.#net.count(this.#net.requests, protocol)
    entry.active++
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error('request timed out')) }, Math.min(opts.timeoutMs, entry.opts.timeoutMs))
        timer.unref()
      })
      return await Promise.race([entry.handler(from, payload), timeout])
    } finally {
      entry.active--
    }
  }

  async handle (protocol: string, opts: ServeOptions, handler: RequestHandler): Promise<void> {
    this.#handlers.set(protocol, { opts, handler, active: 0 })
  }

  async unhandle (protocol: string): Promise<void> {
    this.#handlers.delete(protocol)
  }

  isConnected (peer: Uint8Array): boolean {
    return this.#net.linked(this.self, peer)
  }

  onConnect (listener: (peer: Uint8Array) => void): () => void {
    this.#connectListeners.add(listener)
    return () => { this.#connectListeners.delete(listener) }
  }

  /** @internal */
  connected (peer: Uint8Array): void {
    for (const listener of this.#connectListeners) listener(peer)
  }

  subscribe<T> (topic: string, handlers: GossipHandlers<T>): void {
    this.#topics.set(topic, handlers as GossipHandlers<unknown>)
  }

  unsubscribe (topic: string): void {
    this.#topics.delete(topic)
  }

  async publish (topic: string, data: Uint8Array): Promise<void> {
    for (const peer of this.#net.peers.values()) {
      if (!this.#net.linked(this.self, peer.self)) continue
      this.#net.hop().then(async () => { await peer.gossip(topic, data) }).catch(() => {})
    }
  }

  /** @internal a gossip message arriving (from a linked peer): validated, then delivered. */
  async gossip (topic: string, data: Uint8Array): Promise<void> {
    const handlers = this.#topics.get(topic)
    if (handlers == null) return
    let validation: GossipValidation<unknown>
    try {
      validation = await handlers.validate(data)
    } catch {
      validation = 'ignore'
    }
    if (typeof validation === 'string') return
    this.#net.count(this.#net.gossiped, topic)
    handlers.deliver(validation.accept)
  }
}
