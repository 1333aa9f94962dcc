import { fromHex, toHex } from '../codec/bytes.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'

/** Parsing of route and query parameters, shared by the node's and the coordinator's APIs: bad input is a 400 naming the parameter. */

export function badRequest (message: string): EphemeraError {
  return new EphemeraError(ErrorCode.BAD_REQUEST, message)
}

export function notFound (message: string): EphemeraError {
  return new EphemeraError(ErrorCode.NOT_FOUND, message)
}

/** A 32-byte hash in hex, normalised to lower case. */
export function parseHash (value: string, what = 'block hash'): string {
  const bytes = fromHex(value, 32)
  if (bytes == null) throw badRequest(`${what} must be 64 hex characters, got "${value.slice(0, 80)}"`)
  return toHex(bytes)
}

/** A decimal integer from 1 to `max`; `fallback` when absent (required when there is none). */
export function parsePositiveInt (value: string | undefined, what: string, fallback?: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value == null || value === '') {
    if (fallback != null) return fallback
    throw badRequest(`${what} is required`)
  }
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) throw badRequest(`${what} must be an integer from 1 to ${max}, got "${value.slice(0, 40)}"`)
  return n
}

export function parseEpoch (value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw badRequest(`epoch must be a positive integer, got "${value.slice(0, 40)}"`)
  return n
}

/** A zero-based index from a path or query: an integer from 0 to `max`. */
export function parseIndex (value: string, what: string, max: number): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > max) throw badRequest(`${what} must be an integer from 0 to ${max}, got "${value.slice(0, 40)}"`)
  return n
}
