import { membershipId } from '../block/encoding.js'
import { toHex } from '../codec/bytes.js'
import { thresholds } from './rbc-types.js'

export interface BroadcastMember {
  name: string
  publicKey: Uint8Array
  address: string
}

/** One round's committee, as the broadcast engine uses it: who votes, its thresholds and membership id. */
export interface RoundCommittee {
  members: readonly BroadcastMember[]
  keys: readonly Uint8Array[]
  /** public keys, hex */
  hex: ReadonlySet<string>
  membershipId: Uint8Array
  n: number
  f: number
  q: number
}

/**
 * Where the engine learns the committee of each round (= epoch for the rewards application): a
 * fixed one (the peers file), or one that follows the coordinator. `at` must answer at once (the
 * state machine is synchronous): a source that does not know a round yet answers its best guess,
 * the newest committee it knows.
 */
export interface CommitteeSource {
  at: (round: number) => RoundCommittee
  /** Everyone this node exchanges RBC messages and syncs blocks with (the committees of live rounds, self included). */
  peers: () => readonly BroadcastMember[]
  /** Called when the committees or the peers change. */
  onChange: (listener: () => void) => () => void
}

/** Who votes in a round and its thresholds, from the members' keys (throws on a duplicate key). */
export function keysCommittee (keys: readonly Uint8Array[]): { hex: ReadonlySet<string>, n: number, f: number, q: number } {
  const hex = new Set(keys.map(toHex))
  if (hex.size !== keys.length) throw new Error('duplicate member keys')
  return { hex, ...thresholds(keys.length) }
}

export function roundCommittee (members: readonly BroadcastMember[]): RoundCommittee {
  const keys = members.map((m) => m.publicKey)
  return { members, keys, membershipId: membershipId(keys), ...keysCommittee(keys) }
}

/** The same committee for every round (the peers file, or the messages application). */
export class StaticCommittee implements CommitteeSource {
  readonly #committee: RoundCommittee

  constructor (members: readonly BroadcastMember[]) {
    this.#committee = roundCommittee(members)
  }

  at (): RoundCommittee {
    return this.#committee
  }

  peers (): readonly BroadcastMember[] {
    return this.#committee.members
  }

  onChange (): () => void {
    return () => {}
  }
}
