import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { isErrnoException, writeFileAtomic } from '../util/fs.js'

/**
 * A node identity: one Ed25519 key. It is the libp2p PeerId and signs everything the node signs.
 * Signing and verification use node:crypto KeyObjects built once (the hot path); the libp2p
 * PrivateKey is handed to libp2p for the Noise handshake.
 */
export class NodeKey {
  readonly privateKey: PrivateKey
  readonly peerId: PeerId
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  readonly #signer: KeyObject

  private constructor (seed: Uint8Array, publicKey: Uint8Array, signer: KeyObject) {
    this.publicKey = publicKey
    this.#signer = signer
    const raw = new Uint8Array(64)
    raw.set(seed, 0)
    raw.set(publicKey, 32)
    this.privateKey = privateKeyFromRaw(raw)
    this.peerId = peerIdFromPrivateKey(this.privateKey)
  }

  static generate (): NodeKey {
    const { privateKey } = generateKeyPairSync('ed25519')
    return NodeKey.fromKeyObject(privateKey, 'generated key')
  }

  /** From a 32-byte Ed25519 seed (deterministic keys for tests and simulations). */
  static fromSeed (seed: Uint8Array): NodeKey {
    if (seed.length !== 32) throw new EphemeraError(ErrorCode.KEY_INVALID, `an Ed25519 seed is 32 bytes, got ${seed.length}`)
    const keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    return NodeKey.fromKeyObject(keyObject, 'seed')
  }

  /** From the text of a key file (PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` writes). */
  static fromPem (pem: string, source = 'key'): NodeKey {
    let keyObject: KeyObject
    try {
      keyObject = createPrivateKey({ key: pem, format: 'pem' })
    } catch {
      throw new EphemeraError(ErrorCode.KEY_INVALID, `${source}: not a PEM-encoded private key`, { source })
    }
    return NodeKey.fromKeyObject(keyObject, source)
  }

  private static fromKeyObject (keyObject: KeyObject, source: string): NodeKey {
    if (keyObject.asymmetricKeyType !== 'ed25519') {
      throw new EphemeraError(ErrorCode.KEY_INVALID, `${source}: expected an Ed25519 key, got ${keyObject.asymmetricKeyType ?? 'unknown'}`, { source })
    }
    const jwk = keyObject.export({ format: 'jwk' })
    if (jwk.d == null || jwk.x == null) throw new EphemeraError(ErrorCode.KEY_INVALID, `${source}: not a private key`, { source })
    return new NodeKey(Buffer.from(jwk.d, 'base64url'), Buffer.from(jwk.x, 'base64url'), keyObject)
  }

  /** PKCS#8 PEM text of the private key: the key file's content. Never log it. */
  toPem (): string {
    return this.#signer.export({ format: 'pem', type: 'pkcs8' }).toString()
  }

  /** Ed25519 signature (64 bytes) over `message`. */
  sign (message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, this.#signer))
  }

  toString (): string {
    return `NodeKey(${this.peerId.toString()})`
  }

  /** Keeps the private key out of JSON, util.inspect and logs. */
  toJSON (): { peerId: string } {
    return { peerId: this.peerId.toString() }
  }

  [Symbol.for('nodejs.util.inspect.custom')] (): string {
    return this.toString()
  }
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Cached public KeyObjects: building one costs about as much as a verification. */
const publicKeyCache = new Map<string, KeyObject>()
const PUBLIC_KEY_CACHE_MAX = 4096

function publicKeyObject (publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString('hex')
  let key = publicKeyCache.get(id)
  if (key == null) {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.clear()
    publicKeyCache.set(id, key)
  }
  return key
}

/**
 * Signatures already found valid, keyed by SHA-256(key ‖ signature ‖ message): a report is checked
 * by the gossip validator, again in the block before echoing, by the application and on delivery;
 * hashing costs about a tenth of a verification. Only successes are cached (a forged signature
 * cannot poison it), and the cache is bounded.
 */
const verified = new Set<string>()
const VERIFIED_MAX = 16_384

/** Verifies an Ed25519 signature with node:crypto; false (never a throw) for malformed input. */
export function verifySignature (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  const id = createHash('sha256').update(publicKey).update(signature).update(message).digest('base64')
  if (verified.has(id)) return true
  let ok: boolean
  try {
    ok = nodeVerify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false
  }
  if (ok) {
    if (verified.size >= VERIFIED_MAX) verified.clear()
    verified.add(id)
  }
  return ok
}

/** The 32-byte Ed25519 public key inside an Ed25519 PeerId string, or an error naming the problem. */
export function publicKeyFromPeerId (peerId: string): Uint8Array {
  let parsed
  try {
    parsed = peerIdFromString(peerId)
  } catch {
    throw new EphemeraError(ErrorCode.KEY_INVALID, `"${peerId}" is not a valid PeerId`)
  }
  if (parsed.type !== 'Ed25519') throw new EphemeraError(ErrorCode.KEY_INVALID, `PeerId ${peerId} is a ${parsed.type} key; members must be Ed25519`)
  return parsed.publicKey.raw
}

/** Reads a key file, refusing files that group or others can read (like ssh does). */
export async function readKeyFile (path: string): Promise<NodeKey> {
  let text: string
  let mode: number
  try {
    mode = (await stat(path)).mode
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') throw new EphemeraError(ErrorCode.KEY_NOT_FOUND, `key file ${path} does not exist`, { path })
    throw new EphemeraError(ErrorCode.KEY_INVALID, `cannot read key file ${path}: ${isErrnoException(err) ? err.code : String(err)}`, { path })
  }
  if ((mode & 0o077) !== 0) {
    throw new EphemeraError(ErrorCode.KEY_INVALID,
      `key file ${path} has permissions ${(mode & 0o777).toString(8).padStart(4, '0')}; it must not be accessible by group or others (run: chmod 600 ${path})`,
      { path })
  }
  return NodeKey.fromPem(text, `key file ${path}`)
}

/** Writes a key file with mode 0600, atomically. The caller decides whether overwriting is allowed. */
export async function writeKeyFile (path: string, key: NodeKey): Promise<void> {
  await writeFileAtomic(path, key.toPem(), 0o600)
}
