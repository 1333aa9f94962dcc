import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { concatBytes } from '../codec/bytes.js'

/** The part of node:crypto used here (typed structurally: this module also runs in the browser). */
interface NativeCrypto {
  createHash: (algorithm: string) => { update: (data: Uint8Array) => unknown, digest: () => Uint8Array }
}

/**
 * Node's own SHA-256 (OpenSSL, several times faster than JavaScript on block-sized inputs) where
 * there is a Node; @noble/hashes elsewhere (the dashboard's browser bundle). Both give the same bytes.
 */
const native: NativeCrypto | undefined = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as NativeCrypto | undefined

/** SHA-256 over the concatenation of `parts`. */
export function sha256 (...parts: Uint8Array[]): Uint8Array {
  if (native != null) {
    const hash = native.createHash('sha256')
    for (const part of parts) hash.update(part)
    // a plain Uint8Array, not a Buffer: callers compare and encode it as bytes
    return new Uint8Array(hash.digest())
  }
  return portableSha256(...parts)
}

/** SHA-256 in JavaScript (@noble/hashes), whatever the platform. */
export function portableSha256 (...parts: Uint8Array[]): Uint8Array {
  return nobleSha256(parts.length === 1 ? parts[0] as Uint8Array : concatBytes(...parts))
}
