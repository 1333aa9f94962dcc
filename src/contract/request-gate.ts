import type { VerifyFn } from '../block/validate.js'
import { toHex } from '../codec/bytes.js'
import { HEADERS, verifyRequest } from '../epochs/auth.js'
import type { CommitteeMemberJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

type Headers = Record<string, string | string[] | undefined>

/**
 * Who may write to the coordinator: signed requests (docs/PROTOCOL.md §7.5) by committee members,
 * fresh, never replayed. `precheck` is the cheap part, before the body is read.
 */
export interface RequestGateModules {
  /** public key (hex) → committee entry */
  members: ReadonlyMap<string, CommitteeMemberJson>
  skewMs: number
  clock: () => number
  verify: VerifyFn
  /** Records a nonce as used; false if it already was (the coordinator's store). */
  useNonce: (key: string, timestamp: number) => Promise<boolean>
}

export class RequestGate {
  readonly #m: RequestGateModules

  constructor (modules: RequestGateModules) {
    this.#m = modules
  }

  /** The signature headers are there, the timestamp is fresh and the key belongs to the committee. */
  precheck (headers: Headers): void {
    const key = headers[HEADERS.key]
    if (typeof key !== 'string' || key === '') throw new EphemeraError(ErrorCode.UNAUTHORIZED, `unsigned request: missing header ${HEADERS.key}`)
    const timestamp = Number(headers[HEADERS.timestamp])
    if (!Number.isSafeInteger(timestamp) || Math.abs(this.#m.clock() - timestamp) > this.#m.skewMs) {
      throw new EphemeraError(ErrorCode.UNAUTHORIZED, `request timestamp missing or more than ${Math.round(this.#m.skewMs / 1000)} s off the coordinator's clock`)
    }
    if (!this.#m.members.has(key.toLowerCase())) throw new EphemeraError(ErrorCode.FORBIDDEN, `signer ${key} is not in the committee`)
  }

  /** Checks a signed request and burns its nonce; returns the signer's committee entry. */
  async authorize (headers: Headers, method: string, path: string, body: Uint8Array): Promise<CommitteeMemberJson> {
    const request = verifyRequest(headers, method, path, body, this.#m.clock(), this.#m.skewMs, this.#m.verify)
    const member = this.#m.members.get(toHex(request.publicKey))
    if (member == null) throw new EphemeraError(ErrorCode.FORBIDDEN, `signer ${toHex(request.publicKey)} is not in the committee`)
    if (!await this.#m.useNonce(`${toHex(request.publicKey)}:${request.nonce}`, request.timestamp)) {
      throw new EphemeraError(ErrorCode.UNAUTHORIZED, 'replayed request: this nonce was already used')
    }
    return member
  }
}
