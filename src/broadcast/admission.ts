import { toHex } from '../codec/bytes.js'
import { decodeCbor, DecodeError, encodeCbor } from '../codec/cbor.js'
import { messageId } from '../block/encoding.js'
import type { Mempool } from '../block/mempool.js'
import { checkMessage } from '../block/validate.js'
import { messageFromWire, messageToWire } from '../block/wire.js'
import { LIMITS, type ClientMessage } from '../block/types.js'
import { verifySignature } from '../crypto/keys.js'
import type { Gossip, GossipVerdict } from '../network/peers.js'
import type { BlockStore } from '../storage/index.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { Application } from './application.js'

export const MESSAGES_TOPIC = 'ephemera/messages/2'

/** Where a client message ended up, for submit answers and duplicates. */
export type SubmitResult = { id: string, status: 'accepted' }

/**
 * Client messages into the mempool: from the HTTP API (submit) and from gossip. A message enters
 * once, when its signature verifies, it is in neither the mempool nor a delivered block, and the
 * application's checkTx accepts it; accepted submissions are gossiped to the other members.
 */
export class ClientAdmission {
  readonly #mempool: Mempool
  readonly #store: BlockStore
  readonly #gossip: Gossip
  readonly #app: () => Application
  readonly #logger: Logger
  readonly #now: () => number

  constructor (modules: { mempool: Mempool, store: BlockStore, gossip: Gossip, app: () => Application, logger: Logger, now: () => number }) {
    this.#mempool = modules.mempool
    this.#store = modules.store
    this.#gossip = modules.gossip
    this.#app = modules.app
    this.#logger = modules.logger
    this.#now = modules.now
  }

  start (): void {
    this.#gossip.subscribe(MESSAGES_TOPIC, {
      validate: async (data) => await this.#validate(data),
      deliver: (data) => {
        const message = this.#decode(data)
        this.#mempool.add(toHex(messageId(message)), message, this.#now())
      }
    })
  }

  stop (): void {
    this.#gossip.unsubscribe(MESSAGES_TOPIC)
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
    try {
      await this.#gossip.publish(MESSAGES_TOPIC, encodeCbor(messageToWire(message)))
    } catch (err) {
      // the message is in this node's mempool; peers that missed it get it inside a block
      this.#logger.debug({ id, err: errorMessage(err) }, 'gossip publish failed')
    }
    return { id, status: 'accepted' }
  }

  #decode (data: Uint8Array): ClientMessage {
    return messageFromWire(decodeCbor(data, LIMITS.dataBytes + 4096, 'gossip message'))
  }

  /** Why a message may not enter the mempool (undefined when it may). Storage errors propagate. */
  async #problem (message: ClientMessage, id: string): Promise<EphemeraError | undefined> {
    const invalid = checkMessage(message, verifySignature)
    if (invalid != null) return new EphemeraError(ErrorCode.MESSAGE_REJECTED, `message rejected: ${invalid}`)
    if (this.#mempool.has(id)) return new EphemeraError(ErrorCode.DUPLICATE, `message ${id} is already in the mempool`)
    const location = await this.#store.messageLocation(id)
    if (location != null) return new EphemeraError(ErrorCode.DUPLICATE, `message ${id} was already delivered in block ${location.block}`)
    const verdict = await this.#app().checkTx(message)
    if (!verdict.accept) return new EphemeraError(ErrorCode.MESSAGE_REJECTED, `message rejected by the application: ${verdict.reason}`)
    return undefined
  }

  /**
   * Gossip verdict: reject only what is invalid in itself (undecodable, bad signature, refused by
   * checkTx); duplicates are ignored; a local failure (storage) throws, which the gossip layer
   * turns into ignore, so that honest peers are never penalised for this node's trouble.
   */
  async #validate (data: Uint8Array): Promise<GossipVerdict> {
    let message: ClientMessage
    try {
      message = this.#decode(data)
    } catch (err) {
      if (err instanceof DecodeError) return 'reject'
      throw err
    }
    const problem = await this.#problem(message, toHex(messageId(message)))
    if (problem == null) return 'accept'
    return problem.code === ErrorCode.DUPLICATE ? 'ignore' : 'reject'
  }
}
