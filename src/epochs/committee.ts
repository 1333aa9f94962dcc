import { membershipId } from '../block/encoding.js'
import { toHex } from '../codec/bytes.js'
import type { Member } from '../config/peers.js'
import { publicKeyFromPeerId } from '../crypto/keys.js'
import type { CommitteeJson } from './record.js'

/** The committee (JSON form) of a peers file's members, with the address each listens on. */
export function committeeOf (members: readonly Member[]): CommitteeJson {
  const keys = members.map((m) => publicKeyFromPeerId(m.peerId))
  return {
    membershipId: toHex(membershipId(keys)),
    members: members.map((m, i) => ({ name: m.name, peerId: m.peerId, publicKey: toHex(keys[i] as Uint8Array), multiaddrs: [m.address] }))
  }
}
