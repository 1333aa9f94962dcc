import type { VerifyFn } from '../block/validate.js'
import { toHex } from '../codec/bytes.js'
import { HEADERS, verifyRequest } from '../epochs/auth.js'
import type { CommitteeMemberJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

type Headers = Record<string, string | string[] | undefined>

/** addToQueue: the one route a key the coordinator does not know yet may sign (its admission policy decides). */
export const QUEUE_PATH = '/contract/queue'
/** The operator's routes: only the admin key signs them. */
export const ADMIN_PATH = '/contract/admin/'

/**
 * Who may write to the coordinator: signed requests (docs/PROTOCOL.md §7.5) by the validators it
 * knows (committee members, queued ones; anyone for addToQueue), never banned ones, fresh, never
 * replayed. `precheck` is the cheap part, before the body is read.
 */
export interface RequestGateModules {
  /** public key (hex) → the signer's entry, if it may sign requests to `path` */
  lookup: (key: string, path: string) => CommitteeMemberJson | undefined
  /** the ban of a key, if it is banned */
  banned: (key: string) => { reason: string } | undefined
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

  /** The signature headers are there, the timestamp is fresh and the key may sign requests to `path`. */
  precheck (headers: Headers, path: string): void {
    const key = headers[HEADERS.key]
    if (typeof key !== 'string' || key === '') throw new EphemeraError(ErrorCode.UNAUTHORIZED, `unsigned request: missing header ${HEADERS.key}`)
    const timestamp = Number(headers[HEADERS.timestamp])
    if (!Number.isSafeInteger(timestamp) || Math.abs(this.#m.clock() - timestamp) > this.#m.skewMs) {
      throw new EphemeraError(ErrorCode.UNAUTHORIZED, `request timestamp missing or more than ${Math.round(this.#m.skewMs / 1000)} s off the coordinator's clock`)
    }
    this.#signer(key.toLowerCase(), path)
  }

  #signer (key: string, path: string): CommitteeMemberJson {
    const ban = this.#m.banned(key)
    if (ban != null) throw new EphemeraError(ErrorCode.BANNED, `signer ${key} is banned: ${ban.reason}`)
    const member = this.#m.lookup(key, path)
    if (member == null) throw new EphemeraError(ErrorCode.FORBIDDEN, `signer ${key} is not in the committee (nor queued)`)
    return member
  }

  /** Checks a signed request and burns its nonce; returns the signer's committee entry. */
  async authorize (headers: Headers, method: string, path: string, body: Uint8Array): Promise<CommitteeMemberJson> {
    const request = verifyRequest(headers, method, path, body, this.#m.clock(), this.#m.skewMs, this.#m.verify)
    const member = this.#signer(toHex(request.publicKey), path.split('?')[0] as string)
    if (!await this.#m.useNonce(`${toHex(request.publicKey)}:${request.nonce}`, request.timestamp)) {
      throw new EphemeraError(ErrorCode.UNAUTHORIZED, 'replayed request: this nonce was already used')
    }
    return member
  }
}
