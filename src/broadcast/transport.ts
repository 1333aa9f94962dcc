import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { toHex } from '../codec/bytes.js'
import type { Block, Certificate } from '../block/types.js'
import type { NodeLibp2p } from '../network/index.js'
import { request, serve } from '../network/reqresp.js'
import type { Logger } from '../util/logger.js'
import { AbortError, errorMessage } from '../util/errors.js'
import { backoffDelay } from '../util/time.js'
import type { RbcMessage } from './machine.js'
import {
  CERTIFIED_PROTOCOL, decodeAck, decodeBatch, decodeCertifiedRequest, decodeCertifiedResponse, decodeFetchRequest, decodeFetchResponse,
  decodeSyncRequest, decodeSyncResponse, encodeAck, encodeBatch, encodeCertifiedRequest, encodeCertifiedResponse, encodeFetchRequest,
  encodeFetchResponse, encodeSyncRequest, encodeSyncResponse, FETCH_PROTOCOL, MAX_FRAME_BYTES, RBC_PROTOCOL, SYNC_PROTOCOL,
  type Envelope, type SyncList
} from './wire.js'

export interface TransportOptions {
  retransmitInitialMs: number
  retransmitMaxMs: number
  /** Unacknowledged messages older than this are dropped. */
  maxAgeMs: number
  /** Per-peer queue bound; the oldest messages go first when it overflows. */
  maxQueue: number
  requestTimeoutMs: number
}

export interface TransportHandlers {
  /** Processes a batch from member `from`; returns the ids to acknowledge. */
  onMessages: (from: Uint8Array, items: Array<{ id: number, message?: RbcMessage, error?: string }>) => Promise<number[]>
  /** Serves a block fetch. */
  onFetch: (from: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array) => Promise<Block | undefined>
  /** Serves the hashes of delivered blocks after a local height (sync). */
  onSyncList: (afterHeight: number, limit: number) => Promise<SyncList>
  /** Serves a delivered block with its certificate (sync). */
  onCertified: (hash: Uint8Array) => Promise<{ block: Block, certificate: Certificate } | undefined>
}

export interface TransportStats {
  sent: number
  retransmitted: number
  received: number
  bytesSent: number
  queued: number
  dropped: number
}

const MAX_BATCH = 256

interface Queued {
  envelope: Envelope
  bytes: number
  enqueuedAt: number
  attempts: number
}

/**
 * Member-to-member delivery of RBC messages over libp2p streams, with retransmission: each peer
 * has an outbox whose messages are re-sent (batched, exponential backoff) until that peer
 * acknowledges them, they age out, or the transport stops. A reconnect flushes at once.
 */
class Outbox {
  readonly peer: Uint8Array
  readonly peerId: PeerId
  readonly queue = new Map<number, Queued>()
  #wake: (() => void) | undefined
  failures = 0

  constructor (peer: Uint8Array) {
    this.peer = peer
    this.peerId = peerIdFromPublicKey(publicKeyFromRaw(peer))
  }

  wake (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  /** Waits for a wake-up, the timeout, or the abort. */
  async idle (ms: number | undefined, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw new AbortError()
    await new Promise<void>((resolve) => {
      const timer = ms == null ? undefined : setTimeout(done, ms)
      function done (): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      this.#wake = done
      signal.addEventListener('abort', done, { once: true })
    })
    if (signal.aborted) throw new AbortError()
  }
}

export class RbcTransport {
  readonly #opts: TransportOptions
  readonly #libp2p: NodeLibp2p
  readonly #logger: Logger
  readonly #outboxes: Map<string, Outbox>
  readonly #byPeerId: Map<string, Outbox>
  readonly #stats: TransportStats = { sent: 0, retransmitted: 0, received: 0, bytesSent: 0, queued: 0, dropped: 0 }
  #nextId = 1
  #controller: AbortController | undefined
  #loops: Array<Promise<void>> = []
  readonly #onConnect = (evt: CustomEvent<PeerId>): void => { this.#byPeerId.get(evt.detail.toString())?.wake() }

  constructor (opts: TransportOptions, modules: { libp2p: NodeLibp2p, peers: readonly Uint8Array[], logger: Logger }) {
    this.#opts = opts
    this.#libp2p = modules.libp2p
    this.#logger = modules.logger
    this.#outboxes = new Map(modules.peers.map((p) => [toHex(p), new Outbox(p)]))
    this.#byPeerId = new Map([...this.#outboxes.values()].map((o) => [o.peerId.toString(), o]))
  }

  async start (handlers: TransportHandlers): Promise<void> {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    const signal = this.#controller.signal
    await this.#libp2p.handle(RBC_PROTOCOL, async (stream, connection) => { await this.#serveBatch(stream, connection, handlers) }, { maxInboundStreams: 256, maxOutboundStreams: 256 })
    await this.#serve(FETCH_PROTOCOL, 1024, async (_from, bytes) => {
      const request = decodeFetchRequest(bytes)
      return encodeFetchResponse(await handlers.onFetch(_from, request.round, request.creator, request.hash))
    })
    await this.#serve(SYNC_PROTOCOL, 64, async (_from, bytes) => {
      const request = decodeSyncRequest(bytes)
      return encodeSyncResponse(await handlers.onSyncList(request.afterHeight, request.limit))
    })
    await this.#serve(CERTIFIED_PROTOCOL, 64, async (_from, bytes) => encodeCertifiedResponse(await handlers.onCertified(decodeCertifiedRequest(bytes))))
    this.#libp2p.addEventListener('peer:connect', this.#onConnect)
    this.#loops = [...this.#outboxes.values()].map(async (outbox) => { await this.#run(outbox, signal) })
  }

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    this.#libp2p.removeEventListener('peer:connect', this.#onConnect)
    await Promise.allSettled(this.#loops)
    await this.#libp2p.unhandle(RBC_PROTOCOL).catch(() => {})
    for (const protocol of [FETCH_PROTOCOL, SYNC_PROTOCOL, CERTIFIED_PROTOCOL]) await this.#libp2p.unhandle(protocol).catch(() => {})
    this.#controller = undefined
  }

  stats (): TransportStats {
    let queued = 0
    for (const o of this.#outboxes.values()) queued += o.queue.size
    return { ...this.#stats, queued }
  }

  /** Queues a message for every other member. */
  broadcast (message: RbcMessage): void {
    // the size bounds batches; a PROPOSE is measured once, not once per peer
    const bytes = message.type === 'propose' ? encodeBatch([{ id: 0, message }]).length : 160
    for (const outbox of this.#outboxes.values()) this.#enqueue(outbox, message, bytes)
  }

  #enqueue (outbox: Outbox, message: RbcMessage, bytes: number): void {
    const envelope = { id: this.#nextId++, message }
    outbox.queue.set(envelope.id, { envelope, bytes, enqueuedAt: Date.now(), attempts: 0 })
    while (outbox.queue.size > this.#opts.maxQueue) {
      const oldest = outbox.queue.keys().next().value as number
      outbox.queue.delete(oldest)
      this.#stats.dropped++
    }
    // while a peer is failing, new messages wait for the backoff (or a reconnect) like the rest
    if (outbox.failures === 0) outbox.wake()
  }

  /** Asks `from` (in order) for a block until one answers with it. */
  async fetch (from: readonly Uint8Array[], round: number, creator: Uint8Array, hash: Uint8Array, signal?: AbortSignal): Promise<Block | undefined> {
    for (const peer of from) {
      try {
        const block = decodeFetchResponse(await this.#request(peer, FETCH_PROTOCOL, encodeFetchRequest(round, creator, hash), signal))
        if (block != null) return block
      } catch (err) {
        if (signal?.aborted === true) throw new AbortError()
        this.#logger.debug({ peer: toHex(peer), err: errorMessage(err) }, 'block fetch failed')
      }
    }
    return undefined
  }

  /** A peer's delivered-block hashes after its local height `afterHeight`. */
  async syncList (peer: Uint8Array, afterHeight: number, limit: number, signal?: AbortSignal): Promise<SyncList> {
    return decodeSyncResponse(await this.#request(peer, SYNC_PROTOCOL, encodeSyncRequest(afterHeight, limit), signal))
  }

  /** A delivered block with its certificate, from `peer`. */
  async certified (peer: Uint8Array, hash: Uint8Array, signal?: AbortSignal): Promise<{ block: Block, certificate: Certificate } | undefined> {
    return decodeCertifiedResponse(await this.#request(peer, CERTIFIED_PROTOCOL, encodeCertifiedRequest(hash), signal))
  }

  async #request (peer: Uint8Array, protocol: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return await request(this.#libp2p, peer, protocol, payload, { signal: () => this.#deadline(signal), maxResponseBytes: MAX_FRAME_BYTES })
  }

  async #serve (protocol: string, maxRequestBytes: number, handler: (from: Uint8Array, request: Uint8Array) => Promise<Uint8Array>): Promise<void> {
    await serve(this.#libp2p, protocol, { maxRequestBytes, timeoutMs: this.#opts.requestTimeoutMs }, handler)
  }

  #deadline (signal?: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.#opts.requestTimeoutMs)
    return signal == null ? timeout : AbortSignal.any([timeout, signal])
  }

  async #run (outbox: Outbox, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.#expire(outbox)
        if (outbox.queue.size === 0) {
          await outbox.idle(undefined, signal)
          continue
        }
        if (outbox.failures > 0) {
          // a wake-up (new message, reconnect) ends the wait early
          await outbox.idle(backoffDelay(outbox.failures - 1, this.#opts.retransmitInitialMs, this.#opts.retransmitMaxMs), signal)
        }
        await this.#flush(outbox, signal)
        outbox.failures = 0
      } catch (err) {
        if (signal.aborted) return
        outbox.failures++
        if (outbox.failures === 1 || outbox.failures % 20 === 0) {
          this.#logger.debug({ peer: outbox.peerId.toString(), failures: outbox.failures, queued: outbox.queue.size, err: errorMessage(err) }, 'rbc send failed, will retransmit')
        }
      }
    }
  }

  #expire (outbox: Outbox): void {
    const cutoff = Date.now() - this.#opts.maxAgeMs
    for (const [id, q] of outbox.queue) {
      if (q.enqueuedAt >= cutoff) break
      outbox.queue.delete(id)
      this.#stats.dropped++
    }
  }

  async #flush (outbox: Outbox, signal: AbortSignal): Promise<void> {
    const batch: Queued[] = []
    let bytes = 0
    for (const q of outbox.queue.values()) {
      if (batch.length >= MAX_BATCH || (batch.length > 0 && bytes + q.bytes > MAX_FRAME_BYTES / 2)) break
      batch.push(q)
      bytes += q.bytes
    }
    const frame = encodeBatch(batch.map((q) => q.envelope))
    let stream: Stream | undefined
    try {
      stream = await this.#libp2p.dialProtocol(outbox.peerId, RBC_PROTOCOL, { signal: this.#deadline(signal) })
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(frame, { signal: this.#deadline(signal) })
      const acked = decodeAck((await lp.read({ signal: this.#deadline(signal) })).subarray())
      await stream.close().catch(() => {})
      for (const q of batch) {
        if (q.attempts > 0) this.#stats.retransmitted++
        q.attempts++
      }
      this.#stats.sent += batch.length
      this.#stats.bytesSent += frame.length
      for (const id of acked) outbox.queue.delete(id)
    } catch (err) {
      stream?.abort(err as Error)
      for (const q of batch) q.attempts++
      throw err
    }
  }

  async #serveBatch (stream: Stream, connection: Connection, handlers: TransportHandlers): Promise<void> {
    const from = connection.remotePeer.publicKey?.raw
    if (from == null) {
      stream.abort(new Error('peer has no public key'))
      return
    }
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    const frame = await lp.read({ signal: AbortSignal.timeout(this.#opts.requestTimeoutMs) })
    let items
    try {
      items = decodeBatch(frame.subarray())
    } catch (err) {
      this.#logger.warn({ peer: connection.remotePeer.toString(), err: errorMessage(err) }, 'undecodable rbc frame')
      stream.abort(err as Error)
      return
    }
    this.#stats.received += items.length
    const acked = await handlers.onMessages(from, items)
    await lp.write(encodeAck(acked), { signal: AbortSignal.timeout(this.#opts.requestTimeoutMs) })
    await stream.close()
  }


}
