import { toHex } from '../codec/bytes.js'
import { decodeCbor, DecodeError, encodeCbor, shape } from '../codec/cbor.js'
import { messageId } from '../block/encoding.js'
import type { Mempool } from '../block/mempool.js'
import { checkMessage } from '../block/validate.js'
import { messageFromWire, messageToWire } from '../block/wire.js'
import { LIMITS, type ClientMessage } from '../block/types.js'
import { verifySignature } from '../crypto/keys.js'
import type { Gossip, GossipValidation } from '../network/peers.js'
import type { BlockStore } from '../storage/index.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { Application } from './application.js'

export const MESSAGES_TOPIC = 'ephemera/messages/3'

/**
 * A publication on MESSAGES_TOPIC is a batch (docs/PROTOCOL.md §3): the messages a node accepted
 * within RELAY_WINDOW_MS of the first one, or fewer once it holds RELAY_MAX_MESSAGES or about
 * RELAY_FLUSH_BYTES. One publication, one copy per peer and one forward per mesh peer carry the
 * whole batch; the window is a fiftieth of the default block interval.
 */
export const RELAY_WINDOW_MS = 20
export const RELAY_MAX_MESSAGES = 64
export const RELAY_FLUSH_BYTES = 256 * 1024
/** The largest batch a receiver decodes: a flush threshold's worth plus one message at its limits. */
export const RELAY_MAX_BYTES = RELAY_FLUSH_BYTES + LIMITS.dataBytes + LIMITS.labelBytes + 1024
/** Bytes a message adds to a batch beyond its data and label (CBOR framing, timestamp, key, signature). */
const RELAY_MESSAGE_OVERHEAD = 128

/** A gossiped batch's new messages, as the validator checked them, handed to its delivery. */
type Admitted = Array<{ id: string, message: ClientMessage }>

/** Where a client message ended up, for submit answers and duplicates. */
export type SubmitResult = { id: string, status: 'accepted' }

/**
 * Client messages into the mempool: from the HTTP API (submit) and from gossip. A message enters
 * once, when its signature verifies, it is in neither the mempool nor a delivered block, and the
 * application's checkTx accepts it; accepted submissions are gossiped to the other members in
 * batches.
 */
export class ClientAdmission {
  readonly #mempool: Mempool
  readonly #store: BlockStore
  readonly #gossip: Gossip
  readonly #app: () => Application
  readonly #logger: Logger
  readonly #now: () => number
  /** Accepted submissions not yet published, and their approximate encoded size. */
  #relay: ClientMessage[] = []
  #relayBytes = 0
  #relayFlush: NodeJS.Timeout | undefined
  /** What the validator decoded and found new, for the delivery of the same publication. */
  #publishing: Promise<void> = Promise.resolve()

  constructor (modules: { mempool: Mempool, store: BlockStore, gossip: Gossip, app: () => Application, logger: Logger, now: () => number }) {
    this.#mempool = modules.mempool
    this.#store = modules.store
    this.#gossip = modules.gossip
    this.#app = modules.app
    this.#logger = modules.logger
    this.#now = modules.now
  }

  start (): void {
    this.#gossip.subscribe<Admitted>(MESSAGES_TOPIC, {
      validate: async (data) => await this.#validate(data),
      deliver: (admitted) => {
        const now = this.#now()
        for (const { id, message } of admitted) this.#mempool.add(id, message, now)
      }
    })
  }

  /** Stops taking gossip; a batch not yet published is dropped (its messages stay in the mempool). */
  async stop (): Promise<void> {
    clearTimeout(this.#relayFlush)
    this.#relayFlush = undefined
    this.#relay = []
    this.#relayBytes = 0
    this.#gossip.unsubscribe(MESSAGES_TOPIC)
    await this.#publishing
  }

  /**
   * A client message from the API: checks it, adds it to the mempool and gossips it. Throws
   * MESSAGE_REJECTED (400), DUPLICATE (409) or MEMPOOL_FULL (429).
   */
  async submit (message: ClientMessage): Promise<SubmitResult> {
    const id = toHex(messageId(message))
    const problem = await this.#problem(message, id)
    if (problem != null) throw problem
    const result = this.#mempool.add(id, message, this.#now())
    if (result === 'duplicate') throw new EphemeraError(ErrorCode.DUPLICATE, `message ${id} is already in the mempool`)
    if (result === 'full') throw new EphemeraError(ErrorCode.MEMPOOL_FULL, `the mempool is full (${this.#mempool.size} messages); retry later`)
    this.#queueRelay(message)
    return { id, status: 'accepted' }
  }

  /** Adds an accepted submission to the batch published RELAY_WINDOW_MS after its first message. */
  #queueRelay (message: ClientMessage): void {
    this.#relay.push(message)
    this.#relayBytes += message.data.length + message.label.length * 3 + RELAY_MESSAGE_OVERHEAD
    if (this.#relay.length >= RELAY_MAX_MESSAGES || this.#relayBytes >= RELAY_FLUSH_BYTES) {
      this.#flushRelay()
      return
    }
    this.#relayFlush ??= setTimeout(() => { this.#flushRelay() }, RELAY_WINDOW_MS)
  }

  #flushRelay (): void {
    clearTimeout(this.#relayFlush)
    this.#relayFlush = undefined
    const batch = this.#relay
    this.#relay = []
    this.#relayBytes = 0
    if (batch.length === 0) return
    const data = encodeCbor(batch.map(messageToWire))
    this.#publishing = this.#publishing.then(async () => {
      try {
        await this.#gossip.publish(MESSAGES_TOPIC, data)
      } catch (err) {
        // the messages are in this node's mempool; peers that missed them get them inside a block
        this.#logger.debug({ messages: batch.length, err: errorMessage(err) }, 'gossip publish failed')
      }
    })
  }

  #decode (data: Uint8Array): ClientMessage[] {
    const items = shape.array(decodeCbor(data, RELAY_MAX_BYTES, 'gossiped messages'), 'gossiped messages', undefined, RELAY_MAX_MESSAGES)
    if (items.length === 0) throw new DecodeError('gossiped messages: an empty batch')
    return items.map((item, i) => messageFromWire(item, `gossiped message ${i}`))
  }

  /** Why a message may not enter the mempool (undefined when it may). Storage errors propagate. */
  async #problem (message: ClientMessage, id: string): Promise<EphemeraError | undefined> {
    const invalid = checkMessage(message, verifySignature)
    if (invalid != null) return new EphemeraError(ErrorCode.MESSAGE_REJECTED, `message rejected: ${invalid}`)
    if (this.#mempool.has(id)) return new EphemeraError(ErrorCode.DUPLICATE, `message ${id} is already in the mempool`)
    if (this.#store.wasDelivered(id)) {
      const location = await this.#store.messageLocation(id)
      return new EphemeraError(ErrorCode.DUPLICATE, `message ${id} was already delivered in block ${location?.block ?? '(unknown)'}`)
    }
    const verdict = await this.#app().checkTx(message)
    if (!verdict.accept) return new EphemeraError(ErrorCode.MESSAGE_REJECTED, `message rejected by the application: ${verdict.reason}`)
    return undefined
  }

  /**
   * Gossip verdict on a batch: reject it when it is malformed or holds a message invalid in
   * itself (undecodable, bad signature, refused by checkTx); ignore it when every message is a
   * duplicate; accept it otherwise (its new messages enter the mempool). A local failure
   * (storage) throws, which the gossip layer turns into ignore, so that honest peers are never
   * penalised for this node's trouble.
   */
  async #validate (data: Uint8Array): Promise<GossipValidation<Admitted>> {
    let messages: ClientMessage[]
    try {
      messages = this.#decode(data)
    } catch (err) {
      if (err instanceof DecodeError) return 'reject'
      throw err
    }
    const fresh: Admitted = []
    for (const message of messages) {
      const id = toHex(messageId(message))
      const problem = await this.#problem(message, id)
      if (problem == null) fresh.push({ id, message })
      else if (problem.code !== ErrorCode.DUPLICATE) return 'reject'
    }
    if (fresh.length === 0) return 'ignore'
    return { accept: fresh }
  }
}
