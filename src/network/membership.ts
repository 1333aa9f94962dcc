import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Member } from '../config/peers.js'

/**
 * The validators this node lets in: who may connect and gossip. It starts as the peers file (the
 * genesis committee) and follows the coordinator's registered validators (the committees of recent
 * and coming epochs, and the queue; never banned ones) through setMembers(). Quorum math for votes
 * is per epoch's committee (src/broadcast/committees.ts), never from who happens to be connected
 * (unlike the Rust Ephemera's membership, §13.10).
 */
export class Membership {
  readonly self: Member
  /** Whether this node is in the peers file (a node that joins later is not). */
  readonly selfInGenesis: boolean
  #members: readonly Member[]
  #byPeerId: Map<string, Member>
  readonly #listeners = new Set<(change: { added: Member[], removed: Member[] }) => void>()

  /**
   * `outsider`: this node's own entry when it is not in the peers file (it joins through the
   * coordinator's queue); without it a node outside the peers file is refused (ERR_NOT_A_MEMBER).
   */
  constructor (members: readonly Member[], selfPeerId: string, outsider?: Member) {
    this.#members = Object.freeze([...members])
    this.#byPeerId = new Map(members.map((m) => [m.peerId, m]))
    const self = this.#byPeerId.get(selfPeerId)
    this.selfInGenesis = self != null
    if (self == null && outsider?.peerId !== selfPeerId) {
      throw new EphemeraError(ErrorCode.NOT_A_MEMBER, `this node's PeerId ${selfPeerId} is not in the peers file; add it, or use the right key_file (a rewards node may be outside it: it joins through the coordinator's queue)`, { peerId: selfPeerId })
    }
    this.self = self ?? outsider as Member
  }

  get members (): readonly Member[] {
    return this.#members
  }

  get size (): number {
    return this.#members.length
  }

  /** Members other than this node. */
  get others (): Member[] {
    return this.#members.filter((m) => m.peerId !== this.self.peerId)
  }

  isMember (peerId: string): boolean {
    return this.#byPeerId.has(peerId)
  }

  get (peerId: string): Member | undefined {
    return this.#byPeerId.get(peerId)
  }

  /** Largest number of faulty members tolerated: f = ⌊(n−1)/3⌋ (of this set; votes use each epoch's committee). */
  get maxFaulty (): number {
    return Math.floor((this.size - 1) / 3)
  }

  /** Quorum q = n − f. */
  get quorum (): number {
    return this.size - this.maxFaulty
  }

  /** Replaces the set (registered validators from the coordinator); tells the listeners who came and went. */
  setMembers (members: readonly Member[]): { added: Member[], removed: Member[] } {
    const next = new Map(members.map((m) => [m.peerId, m]))
    const added = members.filter((m) => {
      const old = this.#byPeerId.get(m.peerId)
      return old == null || old.address !== m.address
    })
    const removed = this.#members.filter((m) => !next.has(m.peerId))
    if (added.length === 0 && removed.length === 0) return { added, removed }
    this.#members = Object.freeze([...members])
    this.#byPeerId = next
    for (const listener of this.#listeners) listener({ added, removed })
    return { added, removed }
  }

  onChange (listener: (change: { added: Member[], removed: Member[] }) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}
