import { toHex } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import type { RoundViewJson } from '../epochs/requests.js'

/**
 * What one member has to do in a round (`GET /contract/epochs/{e}/round?member=KEY`): the chunks
 * offered to it and not contributed, and the chunks it must still verify (contributed or not: a
 * chunk may be verified before its contribution arrives, once the round has its block); the rest of
 * the view as is, without events, and `duties`, a digest of what the member acts on (the round's
 * status, attempt and block, and those chunks). Members poll their round at every change: the
 * whole view (every chunk's lease, contribution and verifications, 64 events) was ~50 KB at 40
 * chunks, sent to every member at every change; with `unless=DIGEST` a long poll is answered only
 * once the member's duties differ from those it last saw.
 */
export function memberView (view: RoundViewJson, member: string): RoundViewJson {
  const chunks = view.chunks.filter((c) => (c.contribution == null && c.lease.holder === member) || (c.verifiers.includes(member) && !c.verifications.some((v) => v.verifier === member)))
  const duties = toHex(sha256(new TextEncoder().encode(JSON.stringify([view.status, view.attempt, view.blockHash, chunks])))).slice(0, 32)
  return { ...view, events: [], chunks, duties }
}
