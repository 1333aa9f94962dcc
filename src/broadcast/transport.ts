import { toHex } from '../codec/bytes.js'
import type { Block, Certificate } from '../block/types.js'
import type { PeerNetwork } from '../network/peers.js'
import type { Logger } from '../util/logger.js'
import { AbortError, errorMessage } from '../util/errors.js'
import { FaultLog } from '../util/fault-log.js'
import { TokenBucket } from '../util/rate-limit.js'
import type { RbcMessage } from './machine.js'
import { Outbox, type OutboxLimits, type Queued } from './outbox.js'
import { TrafficCounter, type Traffic, type TrafficType } from './traffic.js'
import {
  CERTIFIED_PROTOCOL, decodeAck, decodeBatch, decodeCertifiedRequest, decodeCertifiedResponse, decodeFetchRequest, decodeFetchResponse,
  decodeSyncRequest, decodeSyncResponse, encodeAck, encodeBatch, encodeCertifiedRequest, encodeCertifiedResponse, encodeFetchRequest,
  encodeFetchResponse, encodeSyncRequest, encodeSyncResponse, FETCH_PROTOCOL, MAX_BATCH, MAX_FRAME_BYTES, RBC_PROTOCOL, SYNC_PROTOCOL,
  type SyncList
} from './wire.js'

export interface TransportOptions extends OutboxLimits {
  requestTimeoutMs: number
  /** Inbound RBC bytes accepted per second from one peer (bursts up to two full frames). */
  peerBytesPerSecond: number
  /** Inbound RBC messages accepted per second from one peer (bursts up to twice that). */
  peerMessagesPerSecond: number
}

export type InboundItem = { id: number, message?: RbcMessage, error?: string }

export interface TransportHandlers {
  /** Processes a batch from member `from`; returns the ids to acknowledge. */
  onMessages: (from: Uint8Array, items: InboundItem[]) => Promise<number[]>
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
  queuedBytes: number
  dropped: number
  /** Inbound frames refused by the per-peer rate limit. */
  rateLimited: number
  /** Inbound frames that did not decode. */
  undecodable: number
  /** Messages and bytes by type, sent and received (traffic.ts). */
  traffic: Traffic
}

/** Bytes an ECHO or READY takes in a batch (a PROPOSE is measured). */
const VOTE_BYTES = 160

/**
 * Member-to-member delivery of RBC messages with retransmission: each peer has an outbox whose
 * messages are re-sent (batched, with per-message exponential backoff) until that peer
 * acknowledges them, they age out, or the transport stops; a reconnect sends at once. Inbound
 * frames are rate-limited per peer, and undecodable ones are logged once per interval with a
 * count. Runs over any PeerNetwork (libp2p in a node, in memory in tests).
 */
export class RbcTransport {
  readonly #opts: TransportOptions
  readonly #network: PeerNetwork
  readonly #logger: Logger
  readonly #faults: FaultLog
  readonly #now: () => number
  readonly #outboxes = new Map<string, Outbox>()
  readonly #buckets = new Map<string, { bytes: TokenBucket, messages: TokenBucket }>()
  /** Per peer: its send loop, stoppable on its own when the peer leaves. */
  readonly #peerLoops = new Map<string, { controller: AbortController, done: Promise<void> }>()
  readonly #stats = { sent: 0, retransmitted: 0, received: 0, bytesSent: 0, dropped: 0, rateLimited: 0, undecodable: 0 }
  readonly #traffic = new TrafficCounter()
  #nextId = 1
  #controller: AbortController | undefined
  #offConnect: (() => void) | undefined

  constructor (opts: TransportOptions, modules: { network: PeerNetwork, peers: readonly Uint8Array[], logger: Logger, now?: () => number }) {
    this.#opts = opts
    this.#network = modules.network
    this.#logger = modules.logger
    this.#now = modules.now ?? Date.now
    this.#faults = new FaultLog(modules.logger, { now: this.#now })
    for (const p of modules.peers) this.#addPeer(p)
  }

  #addPeer (p: Uint8Array): void {
    const opts = this.#opts
    this.#outboxes.set(toHex(p), new Outbox(p, opts, this.#now))
    this.#buckets.set(toHex(p), {
      bytes: new TokenBucket(opts.peerBytesPerSecond, Math.max(opts.peerBytesPerSecond, 2 * MAX_FRAME_BYTES), this.#now),
      messages: new TokenBucket(opts.peerMessagesPerSecond, 2 * opts.peerMessagesPerSecond, this.#now)
    })
  }

  #startLoop (key: string, outbox: Outbox, signal: AbortSignal): void {
    const controller = new AbortController()
    const done = this.#run(outbox, AbortSignal.any([signal, controller.signal]))
    this.#peerLoops.set(key, { controller, done })
  }

  /**
   * Follows the committees: queues and send loops for new peers; the queues of peers gone are
   * dropped (their messages no longer matter to anyone who counts them).
   */
  async setPeers (peers: readonly Uint8Array[]): Promise<void> {
    const wanted = new Map(peers.map((p) => [toHex(p), p]))
    const stopped: Array<Promise<void>> = []
    for (const [key, loop] of this.#peerLoops) {
      if (wanted.has(key)) continue
      loop.controller.abort()
      stopped.push(loop.done)
      this.#peerLoops.delete(key)
    }
    for (const key of [...this.#outboxes.keys()]) {
      if (wanted.has(key)) continue
      this.#outboxes.delete(key)
      this.#buckets.delete(key)
    }
    for (const [key, p] of wanted) {
      if (this.#outboxes.has(key)) continue
      this.#addPeer(p)
      if (this.#controller != null) this.#startLoop(key, this.#outboxes.get(key) as Outbox, this.#controller.signal)
    }
    await Promise.allSettled(stopped)
  }

  async start (handlers: TransportHandlers): Promise<void> {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    const signal = this.#controller.signal
    const timeoutMs = this.#opts.requestTimeoutMs
    // an honest sender has one batch in flight per peer: a few streams per connection are plenty
    await this.#network.handle(RBC_PROTOCOL, { maxRequestBytes: MAX_FRAME_BYTES, timeoutMs, maxStreams: 8 }, async (from, frame) => await this.#serveBatch(from, frame, handlers))
    await this.#network.handle(FETCH_PROTOCOL, { maxRequestBytes: 1024, timeoutMs, maxStreams: 32 }, async (from, bytes) => {
      const request = decodeFetchRequest(bytes)
      return this.#served('fetch', bytes, encodeFetchResponse(await handlers.onFetch(from, request.round, request.creator, request.hash)))
    })
    await this.#network.handle(SYNC_PROTOCOL, { maxRequestBytes: 64, timeoutMs, maxStreams: 8 }, async (_from, bytes) => {
      const request = decodeSyncRequest(bytes)
      return this.#served('sync', bytes, encodeSyncResponse(await handlers.onSyncList(request.afterHeight, request.limit)))
    })
    await this.#network.handle(CERTIFIED_PROTOCOL, { maxRequestBytes: 64, timeoutMs, maxStreams: 8 }, async (_from, bytes) => this.#served('certified', bytes, encodeCertifiedResponse(await handlers.onCertified(decodeCertifiedRequest(bytes)))))
    this.#offConnect = this.#network.onConnect((peer) => { this.#outboxes.get(toHex(peer))?.reconnected() })
    for (const [key, outbox] of this.#outboxes) this.#startLoop(key, outbox, signal)
  }

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    this.#offConnect?.()
    await Promise.allSettled([...this.#peerLoops.values()].map((l) => l.done))
    this.#peerLoops.clear()
    for (const protocol of [RBC_PROTOCOL, FETCH_PROTOCOL, SYNC_PROTOCOL, CERTIFIED_PROTOCOL]) await this.#network.unhandle(protocol).catch(() => {})
    this.#faults.flush()
    this.#controller = undefined
  }

  stats (): TransportStats {
    let queued = 0
    let queuedBytes = 0
    for (const o of this.#outboxes.values()) {
      queued += o.size
      queuedBytes += o.bytes
    }
    return { ...this.#stats, queued, queuedBytes, traffic: this.#traffic.snapshot() }
  }

  /** Queues a message for every other peer, or for those of `to` (public keys, hex) that are peers. */
  broadcast (message: RbcMessage, to?: ReadonlySet<string>): void {
    // the size bounds batches and queues; a PROPOSE is measured once, not once per peer
    const bytes = message.type === 'propose' ? encodeBatch([{ id: 0, message }]).length : VOTE_BYTES
    for (const [key, outbox] of this.#outboxes) {
      if (to != null && !to.has(key)) continue
      this.#stats.dropped += outbox.add({ id: this.#nextId++, message }, bytes)
    }
  }

  /** Asks `from` (in order) for a block until one answers with it. */
  async fetch (from: readonly Uint8Array[], round: number, creator: Uint8Array, hash: Uint8Array, signal?: AbortSignal): Promise<Block | undefined> {
    for (const peer of from) {
      try {
        const block = decodeFetchResponse(await this.#exchange('fetch', peer, FETCH_PROTOCOL, encodeFetchRequest(round, creator, hash), signal))
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
    return decodeSyncResponse(await this.#exchange('sync', peer, SYNC_PROTOCOL, encodeSyncRequest(afterHeight, limit), signal))
  }

  /** A delivered block with its certificate, from `peer`. */
  async certified (peer: Uint8Array, hash: Uint8Array, signal?: AbortSignal): Promise<{ block: Block, certificate: Certificate } | undefined> {
    return decodeCertifiedResponse(await this.#exchange('certified', peer, CERTIFIED_PROTOCOL, encodeCertifiedRequest(hash), signal))
  }

  /** A request answered by `peer`, counted (traffic.ts): the request sent, the answer received. */
  async #exchange (type: TrafficType, peer: Uint8Array, protocol: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const answer = await this.#request(peer, protocol, payload, signal)
    this.#traffic.count('sent', type, 1, payload.length)
    this.#traffic.count('received', type, 0, answer.length)
    return answer
  }

  /** A request served, counted: the request received, the answer sent. */
  #served (type: TrafficType, request: Uint8Array, answer: Uint8Array): Uint8Array {
    this.#traffic.count('received', type, 1, request.length)
    this.#traffic.count('sent', type, 0, answer.length)
    return answer
  }

  async #request (peer: Uint8Array, protocol: string, payload: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    return await this.#network.request(peer, protocol, payload, { signal, timeoutMs: this.#opts.requestTimeoutMs, maxResponseBytes: MAX_FRAME_BYTES })
  }

  async #run (outbox: Outbox, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.#stats.dropped += outbox.expire()
        const batch = outbox.due(MAX_BATCH, MAX_FRAME_BYTES / 2)
        if (batch.length === 0) {
          const next = outbox.nextDue()
          await outbox.idle(next == null ? undefined : next - this.#now(), signal)
          continue
        }
        await this.#flush(outbox, batch, signal)
      } catch (err) {
        if (signal.aborted) return
        if (outbox.failures === 1 || outbox.failures % 20 === 0) {
          this.#logger.debug({ peer: toHex(outbox.peer).slice(0, 16), failures: outbox.failures, queued: outbox.size, err: errorMessage(err) }, 'rbc send failed, will retransmit')
        }
      }
    }
  }

  async #flush (outbox: Outbox, batch: Queued[], signal: AbortSignal): Promise<void> {
    const frame = encodeBatch(batch.map((q) => q.envelope))
    let acked: number[]
    let answer: Uint8Array
    try {
      answer = await this.#request(outbox.peer, RBC_PROTOCOL, frame, signal)
      acked = decodeAck(answer)
    } catch (err) {
      outbox.failed(batch)
      throw err
    }
    for (const q of batch) if (q.attempts > 0) this.#stats.retransmitted++
    this.#stats.sent += batch.length
    this.#stats.bytesSent += frame.length
    this.#traffic.batch('sent', batch.map((q) => q.envelope), frame.length)
    this.#traffic.count('received', 'ack', 0, answer.length)
    outbox.settled(batch, new Set(acked))
  }

  async #serveBatch (from: Uint8Array, frame: Uint8Array, handlers: TransportHandlers): Promise<Uint8Array> {
    const peer = toHex(from)
    const buckets = this.#buckets.get(peer)
    if (buckets == null) throw new Error('not a member')
    if (!buckets.bytes.take(frame.length)) {
      this.#stats.rateLimited++
      this.#faults.report(`rate:${peer}`, { peer: peer.slice(0, 16), bytes: frame.length }, 'rbc frames from a peer over its byte rate: refused (it will retransmit later)')
      throw new Error('rate limited')
    }
    let items: InboundItem[]
    try {
      items = decodeBatch(frame)
    } catch (err) {
      this.#stats.undecodable++
      this.#faults.report(`undecodable:${peer}`, { peer: peer.slice(0, 16), err: errorMessage(err) }, 'undecodable rbc frame')
      throw err
    }
    if (!buckets.messages.take(items.length)) {
      this.#stats.rateLimited++
      this.#faults.report(`rate:${peer}`, { peer: peer.slice(0, 16), messages: items.length }, 'rbc messages from a peer over its message rate: refused (it will retransmit later)')
      throw new Error('rate limited')
    }
    const bad = items.filter((i) => i.message == null)
    if (bad.length > 0) {
      this.#stats.undecodable += bad.length
      this.#faults.report(`undecodable-message:${peer}`, { peer: peer.slice(0, 16), count: bad.length, err: bad[0]?.error }, 'undecodable rbc messages in a frame')
    }
    this.#stats.received += items.length
    this.#traffic.batch('received', items.flatMap((i) => i.message != null ? [{ id: i.id, message: i.message }] : []), frame.length)
    const ack = encodeAck(await handlers.onMessages(from, items))
    this.#traffic.count('sent', 'ack', 0, ack.length)
    return ack
  }
}
