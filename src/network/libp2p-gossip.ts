import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from '../util/logger.js'
import { errorMessage } from '../util/errors.js'
import type { NodeLibp2p } from './libp2p.js'
import { verdictOf, type Gossip, type GossipHandlers, type GossipVerdict } from './peers.js'

const VERDICT: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/**
 * Gossip over gossipsub, with unsigned messages (StrictNoSign, src/network/libp2p.ts): what is
 * gossiped is signed by its author already. A validator that throws is a local problem (e.g.
 * storage), not the sender's fault: the message is ignored, never rejected, so honest peers are
 * not penalised. The value an accepting validator gives reaches `deliver` with the message:
 * gossipsub hands the event the message object it validated.
 */
export class Libp2pGossip implements Gossip {
  readonly #pubsub: GossipSub
  readonly #logger: Logger
  readonly #topics = new Map<string, GossipHandlers<unknown>>()
  /** Accepted messages' values, from the validator to the message event. */
  readonly #accepted = new WeakMap<Message, unknown>()
  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    const handlers = this.#topics.get(evt.detail.topic)
    if (handlers == null || !this.#accepted.has(evt.detail)) return
    const value = this.#accepted.get(evt.detail)
    this.#accepted.delete(evt.detail)
    try {
      handlers.deliver(value)
    } catch (err) {
      this.#logger.warn({ topic: evt.detail.topic, err: errorMessage(err) }, 'gossip handler failed')
    }
  }

  constructor (libp2p: NodeLibp2p, logger: Logger) {
    this.#pubsub = libp2p.services.pubsub as unknown as GossipSub
    this.#logger = logger
  }

  subscribe<T> (topic: string, handlers: GossipHandlers<T>): void {
    if (this.#topics.size === 0) this.#pubsub.addEventListener('message', this.#onMessage)
    this.#topics.set(topic, handlers as GossipHandlers<unknown>)
    this.#pubsub.topicValidators.set(topic, async (_peer: PeerId, message: Message) => {
      try {
        const validation = await handlers.validate(message.data)
        if (typeof validation !== 'string') this.#accepted.set(message, validation.accept)
        return VERDICT[verdictOf(validation)]
      } catch (err) {
        this.#logger.debug({ topic, err: errorMessage(err) }, 'gossip validation failed locally; ignoring the message')
        return TopicValidatorResult.Ignore
      }
    })
    this.#pubsub.subscribe(topic)
  }

  unsubscribe (topic: string): void {
    if (!this.#topics.delete(topic)) return
    this.#pubsub.topicValidators.delete(topic)
    this.#pubsub.unsubscribe(topic)
    if (this.#topics.size === 0) this.#pubsub.removeEventListener('message', this.#onMessage)
  }

  async publish (topic: string, data: Uint8Array): Promise<void> {
    await this.#pubsub.publish(topic, data)
  }
}
