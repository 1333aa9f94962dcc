import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'

ed.hashes.sha512 = sha512

/**
 * Ed25519 verification in pure JavaScript (@noble/ed25519, RFC 8032 strict mode), for code that
 * must also run outside Node (the certificate verifier) and to cross-check node:crypto in tests.
 * False, never a throw, for malformed input.
 */
export function verifyPortable (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  try {
    return ed.verify(signature, message, publicKey, { zip215: false })
  } catch {
    return false
  }
}
