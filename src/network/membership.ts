import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Member } from '../config/peers.js'

/**
 * The fixed validator set of a run: who may connect, gossip and vote. Quorum math derives from n,
 * never from who happens to be connected (unlike the Rust Ephemera's membership, §13.10).
 */
export class Membership {
  readonly self: Member
  readonly members: readonly Member[]
  readonly #byPeerId: Map<string, Member>

  constructor (members: readonly Member[], selfPeerId: string) {
    this.members = Object.freeze([...members])
    this.#byPeerId = new Map(members.map((m) => [m.peerId, m]))
    const self = this.#byPeerId.get(selfPeerId)
    if (self == null) {
      throw new EphemeraError(ErrorCode.NOT_A_MEMBER, `this node's PeerId ${selfPeerId} is not in the peers file; add it or use the right key_file`, { peerId: selfPeerId })
    }
    this.self = self
  }

  get size (): number {
    return this.members.length
  }

  /** Members other than this node. */
  get others (): Member[] {
    return this.members.filter((m) => m.peerId !== this.self.peerId)
  }

  isMember (peerId: string): boolean {
    return this.#byPeerId.has(peerId)
  }

  get (peerId: string): Member | undefined {
    return this.#byPeerId.get(peerId)
  }

  /** Largest number of faulty members tolerated: f = ⌊(n−1)/3⌋. */
  get maxFaulty (): number {
    return Math.floor((this.size - 1) / 3)
  }

  /** Quorum q = n − f. */
  get quorum (): number {
    return this.size - this.maxFaulty
  }
}
