import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '../codec/bytes.js'

/** SHA-256 over the concatenation of `parts` (portable: @noble/hashes). */
export function sha256 (...parts: Uint8Array[]): Uint8Array {
  return nobleSha256(parts.length === 1 ? parts[0] as Uint8Array : concatBytes(...parts))
}
