import { randomBytes } from 'node:crypto'
import { ByteWriter, fromHex, toHex } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import type { VerifyFn } from '../block/validate.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

/**
 * Signed HTTP requests to the coordinator (docs/PROTOCOL.md §7.5). A mutating request carries
 * four headers; the signature covers the method, the path, the body's SHA-256, the timestamp and
 * a random nonce:
 *
 *   request_signing_bytes = tag("ephemera/request/v1") ‖ u16 len ‖ method ‖ u16 len ‖ path
 *                         ‖ SHA-256(body)(32) ‖ u64(timestamp) ‖ nonce(16)
 *
 * The coordinator refuses a stale timestamp and any nonce it has seen before (replay).
 */

export const HEADERS = {
  key: 'ephemera-key',
  timestamp: 'ephemera-timestamp',
  nonce: 'ephemera-nonce',
  signature: 'ephemera-signature'
} as const

export function requestSigningBytes (method: string, path: string, body: Uint8Array, timestamp: number, nonce: Uint8Array): Uint8Array {
  return new ByteWriter().tag('ephemera/request/v1').string16(method.toUpperCase()).string16(path).bytes(sha256(body)).u64(timestamp).bytes(nonce).finish()
}

/** Headers for a request signed by `publicKey` with `sign`. */
export function signRequest (publicKey: Uint8Array, sign: (bytes: Uint8Array) => Uint8Array, method: string, path: string, body: Uint8Array, now = Date.now()): Record<string, string> {
  const nonce = new Uint8Array(randomBytes(16))
  return {
    [HEADERS.key]: toHex(publicKey),
    [HEADERS.timestamp]: String(now),
    [HEADERS.nonce]: toHex(nonce),
    [HEADERS.signature]: toHex(sign(requestSigningBytes(method, path, body, now, nonce)))
  }
}

export interface VerifiedRequest {
  publicKey: Uint8Array
  nonce: string
  timestamp: number
}

/**
 * Checks a request's signature headers; throws UNAUTHORIZED naming what is wrong. Replay
 * protection (the nonce) is the caller's: it must refuse a nonce it has already accepted.
 */
export function verifyRequest (headers: Record<string, string | string[] | undefined>, method: string, path: string, body: Uint8Array, now: number, maxSkewMs: number, verify: VerifyFn): VerifiedRequest {
  const header = (name: string): string => {
    const value = headers[name]
    if (typeof value !== 'string' || value === '') throw new EphemeraError(ErrorCode.UNAUTHORIZED, `unsigned request: missing header ${name}`)
    return value
  }
  const publicKey = fromHex(header(HEADERS.key), 32)
  if (publicKey == null) throw new EphemeraError(ErrorCode.UNAUTHORIZED, `${HEADERS.key} must be a 32-byte hex public key`)
  const rawTimestamp = header(HEADERS.timestamp)
  const timestamp = /^\d{1,16}$/.test(rawTimestamp) ? Number(rawTimestamp) : NaN
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new EphemeraError(ErrorCode.UNAUTHORIZED, `${HEADERS.timestamp} must be milliseconds since the Unix epoch`)
  if (Math.abs(now - timestamp) > maxSkewMs) throw new EphemeraError(ErrorCode.UNAUTHORIZED, `request timestamp is ${Math.round((now - timestamp) / 1000)} s off the coordinator's clock (limit ${Math.round(maxSkewMs / 1000)} s)`)
  const nonce = fromHex(header(HEADERS.nonce), 16)
  if (nonce == null) throw new EphemeraError(ErrorCode.UNAUTHORIZED, `${HEADERS.nonce} must be 16 bytes of hex`)
  const signature = fromHex(header(HEADERS.signature), 64)
  if (signature == null) throw new EphemeraError(ErrorCode.UNAUTHORIZED, `${HEADERS.signature} must be 64 bytes of hex`)
  if (!verify(publicKey, requestSigningBytes(method, path, body, timestamp, nonce), signature)) {
    throw new EphemeraError(ErrorCode.UNAUTHORIZED, 'request signature does not verify (method, path, body, timestamp or nonce differ from what was signed)')
  }
  return { publicKey, nonce: toHex(nonce), timestamp }
}
