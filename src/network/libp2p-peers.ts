import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { toHex } from '../codec/bytes.js'
import type { NodeLibp2p } from './libp2p.js'
import type { PeerNetwork, RequestHandler, RequestOptions, ServeOptions } from './peers.js'
import { request, serve } from './reqresp.js'
import { StreamPool } from './stream-pool.js'

/** PeerNetwork over the libp2p host: length-prefixed request/response frames on streams kept open between exchanges (reqresp.ts, stream-pool.ts). */
export class Libp2pPeerNetwork implements PeerNetwork {
  readonly self: Uint8Array
  readonly #libp2p: NodeLibp2p
  readonly #peerIds = new Map<string, PeerId>()
  /** Request streams kept open between exchanges (stream-pool.ts). */
  readonly #pool = new StreamPool()

  constructor (libp2p: NodeLibp2p, self: Uint8Array) {
    this.#libp2p = libp2p
    this.self = self
  }

  #peerId (peer: Uint8Array): PeerId {
    const key = toHex(peer)
    let id = this.#peerIds.get(key)
    if (id == null) {
      id = peerIdFromPublicKey(publicKeyFromRaw(peer))
      // members only: the set is as large as the membership
      if (this.#peerIds.size < 10_000) this.#peerIds.set(key, id)
    }
    return id
  }

  async request (peer: Uint8Array, protocol: string, payload: Uint8Array, opts: RequestOptions): Promise<Uint8Array> {
    const timeout = AbortSignal.timeout(opts.timeoutMs)
    const signal = opts.signal == null ? timeout : AbortSignal.any([timeout, opts.signal])
    return await request(this.#libp2p, peer, protocol, payload, { signal, maxResponseBytes: opts.maxResponseBytes, pool: this.#pool })
  }

  async handle (protocol: string, opts: ServeOptions, handler: RequestHandler): Promise<void> {
    await serve(this.#libp2p, protocol, opts, handler)
  }

  async unhandle (protocol: string): Promise<void> {
    await this.#libp2p.unhandle(protocol)
  }

  /** Closes the request streams kept open (the node stops; the host's connections go with it). */
  close (): void {
    this.#pool.clear()
  }

  isConnected (peer: Uint8Array): boolean {
    return this.#libp2p.getConnections(this.#peerId(peer)).some((c) => c.status === 'open')
  }

  onConnect (listener: (peer: Uint8Array) => void): () => void {
    const handler = (evt: CustomEvent<PeerId>): void => {
      const key = evt.detail.publicKey?.raw
      if (key != null) listener(key)
    }
    this.#libp2p.addEventListener('peer:connect', handler)
    return () => { this.#libp2p.removeEventListener('peer:connect', handler) }
  }
}
