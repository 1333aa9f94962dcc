import { decode, encode } from 'cborg'
import { encodedLength } from 'cborg/length'
import { EphemeraError, ErrorCode } from '../util/errors.js'

/**
 * CBOR for wire frames and stored records (not for anything signed: signed payloads use the fixed
 * layouts of src/block/encoding.ts). Decoding is strict (no indefinite lengths, no undefined, no
 * duplicate map keys), size-capped, and every failure is a DecodeError, never a crash.
 */

export class DecodeError extends EphemeraError {
  constructor (message: string) {
    super(ErrorCode.DECODE, message)
    this.name = 'DecodeError'
  }
}

export function encodeCbor (value: unknown): Uint8Array {
  return encode(value)
}

/** The length of encodeCbor(value), without encoding it. */
export function cborLength (value: unknown): number {
  return encodedLength(value)
}

export function decodeCbor (bytes: Uint8Array, maxBytes: number, what: string): unknown {
  if (bytes.length > maxBytes) throw new DecodeError(`${what}: ${bytes.length} bytes exceeds the limit of ${maxBytes}`)
  try {
    return decode(bytes, { strict: true, allowUndefined: false, allowIndefinite: false, rejectDuplicateMapKeys: true, useMaps: false })
  } catch (err) {
    throw new DecodeError(`${what}: not valid CBOR (${(err as Error).message})`)
  }
}

/** Shape checks for decoded values; each throws DecodeError naming the field. */
export const shape = {
  array (value: unknown, what: string, length?: number, maxLength = 1_000_000): unknown[] {
    if (!Array.isArray(value)) throw new DecodeError(`${what}: expected an array`)
    if (length != null && value.length !== length) throw new DecodeError(`${what}: expected ${length} entries, got ${value.length}`)
    if (value.length > maxLength) throw new DecodeError(`${what}: more than ${maxLength} entries`)
    return value
  },
  uint (value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) throw new DecodeError(`${what}: expected an unsigned integer ≤ ${max}`)
    return value
  },
  bytes (value: unknown, what: string, length?: number, maxLength = Number.MAX_SAFE_INTEGER): Uint8Array {
    if (!(value instanceof Uint8Array)) throw new DecodeError(`${what}: expected bytes`)
    if (length != null && value.length !== length) throw new DecodeError(`${what}: expected ${length} bytes, got ${value.length}`)
    if (value.length > maxLength) throw new DecodeError(`${what}: more than ${maxLength} bytes`)
    return value
  },
  string (value: unknown, what: string, maxBytes: number): string {
    if (typeof value !== 'string') throw new DecodeError(`${what}: expected a string`)
    if (new TextEncoder().encode(value).length > maxBytes) throw new DecodeError(`${what}: more than ${maxBytes} bytes`)
    return value
  },
  boolean (value: unknown, what: string): boolean {
    if (typeof value !== 'boolean') throw new DecodeError(`${what}: expected a boolean`)
    return value
  }
}
