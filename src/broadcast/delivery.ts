import { toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import type { Mempool } from '../block/mempool.js'
import type { Block, Certificate } from '../block/types.js'
import type { BlockStore, StoredMember, VoteStore } from '../storage/index.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { Application, DeliveredBlock } from './application.js'
import type { OwnProposals } from './own-proposals.js'

export type DeliveredListener = (delivered: DeliveredBlock) => void

/**
 * What happens when an instance delivers (by RBC, or a certified block obtained by sync): one
 * atomic, synced write stores the block, its certificate, the membership, the message index, the
 * decided marker and the end of an own proposal; then the mempool, the listeners (WebSocket) and
 * the application learn of it.
 */
export class Delivery {
  readonly #store: BlockStore
  readonly #votes: VoteStore
  readonly #mempool: Mempool
  readonly #own: OwnProposals
  readonly #app: () => Application
  readonly #logger: Logger
  readonly #now: () => number
  /** The committee a round's blocks are certified by (stored with each block). */
  readonly #committee: (round: number) => { membershipId: Uint8Array, members: StoredMember[] }
  readonly #listeners = new Set<DeliveredListener>()
  readonly #floor: (creator: Uint8Array) => number
  delivered = 0

  constructor (modules: { store: BlockStore, votes: VoteStore, mempool: Mempool, own: OwnProposals, app: () => Application, logger: Logger, now: () => number, committee: (round: number) => { membershipId: Uint8Array, members: StoredMember[] }, floor: (creator: Uint8Array) => number }) {
    this.#store = modules.store
    this.#votes = modules.votes
    this.#mempool = modules.mempool
    this.#own = modules.own
    this.#app = modules.app
    this.#logger = modules.logger
    this.#now = modules.now
    this.#committee = modules.committee
    this.#floor = modules.floor
  }

  onDelivered (listener: DeliveredListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  get listeners (): number {
    return this.#listeners.size
  }

  async deliver (block: Block, hash: Uint8Array, certificate: Certificate, via: 'rbc' | 'sync', proposalSignature?: Uint8Array): Promise<void> {
    const { round, creator } = block.header
    // delivered before a restart: the application has seen it already
    if (await this.#store.has(toHex(hash))) return
    const decided = round > this.#floor(creator) ? this.#votes.decidedOps({ round, creator, hash, proposalSignature }) : []
    const localHeight = await this.#store.deliver({
      hash, block, certificate, ...this.#committee(round), deliveredAt: new Date(this.#now())
    }, [...decided, ...this.#own.deliveredOps(block)])
    this.delivered++
    this.#mempool.delivered(block.messages.map((m) => toHex(messageId(m))))
    this.#logger.info({ round, creator: toHex(creator).slice(0, 16), hash: toHex(hash), localHeight, messages: block.messages.length, signatures: certificate.signatures.length, via }, 'block delivered')
    const delivered: DeliveredBlock = { hash, block, certificate, localHeight }
    for (const listener of this.#listeners) {
      try {
        listener(delivered)
      } catch (err) {
        this.#logger.warn({ err: errorMessage(err) }, 'delivery listener failed')
      }
    }
    try {
      await this.#app().deliverBlock(delivered)
    } catch (err) {
      this.#logger.error({ hash: toHex(hash), err: errorMessage(err) }, 'application deliverBlock failed')
    }
  }
}
