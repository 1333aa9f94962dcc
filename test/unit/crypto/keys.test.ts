import { generateKeyPairSync } from 'node:crypto'
import { chmod, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { inspect } from 'node:util'
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'
import { describe, it, expect } from 'vitest'
import { NodeKey, publicKeyFromPeerId, readKeyFile, verifySignature, writeKeyFile } from '../../../src/crypto/keys.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

ed.hashes.sha512 = sha512

async function keyError (promise: Promise<unknown>): Promise<EphemeraError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    return err as EphemeraError
  }
  throw new Error('expected a rejection')
}

const message = new TextEncoder().encode('epoch 7: rewards')

describe('key files', () => {
  it('writeKeyFile then readKeyFile gives the same identity', async () => {
    const file = join(await tempDir(), 'node.key')
    const key = NodeKey.generate()
    await writeKeyFile(file, key)
    const read = await readKeyFile(file)
    expect(read.peerId.toString()).toBe(key.peerId.toString())
    expect(read.peerId.equals(key.peerId)).toBe(true)
    expect(Buffer.from(read.publicKey).equals(Buffer.from(key.publicKey))).toBe(true)
    expect(read.toPem()).toBe(key.toPem())
    // the read key signs what the original verifies
    expect(verifySignature(key.publicKey, message, read.sign(message))).toBe(true)
  })

  it('writes the key file with mode 0600', async () => {
    const file = join(await tempDir(), 'node.key')
    await writeKeyFile(file, NodeKey.generate())
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('refuses a key file readable by group or others', async () => {
    const file = join(await tempDir(), 'node.key')
    await writeKeyFile(file, NodeKey.generate())
    await chmod(file, 0o644)
    const err = await keyError(readKeyFile(file))
    expect(err.code).toBe(ErrorCode.KEY_INVALID)
    expect(err.message).toContain(`chmod 600 ${file}`)
    expect(err.message).toContain('0644')
    await chmod(file, 0o640)
    expect((await keyError(readKeyFile(file))).code).toBe(ErrorCode.KEY_INVALID)
    await chmod(file, 0o600)
    await expect(readKeyFile(file)).resolves.toBeInstanceOf(NodeKey)
  })

  it('rejects non-PEM content', async () => {
    const file = join(await tempDir(), 'node.key')
    await writeFile(file, 'hello, not a key\n', { mode: 0o600 })
    const err = await keyError(readKeyFile(file))
    expect(err.code).toBe(ErrorCode.KEY_INVALID)
    expect(err.message).toContain(file)
    expect(err.message).toContain('not a PEM-encoded private key')
  })

  it.each([
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey],
    ['X25519', () => generateKeyPairSync('x25519').privateKey]
  ])('rejects a %s PEM key', async (_name, make) => {
    const file = join(await tempDir(), 'node.key')
    await writeFile(file, make().export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
    const err = await keyError(readKeyFile(file))
    expect(err.code).toBe(ErrorCode.KEY_INVALID)
    expect(err.message).toContain('expected an Ed25519 key')
  })

  it('rejects an Ed25519 public key PEM', () => {
    const pub = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString()
    expect(() => NodeKey.fromPem(pub)).toThrow(EphemeraError)
  })

  it('reports a missing key file with ERR_KEY_NOT_FOUND', async () => {
    const file = join(await tempDir(), 'absent.key')
    const err = await keyError(readKeyFile(file))
    expect(err.code).toBe(ErrorCode.KEY_NOT_FOUND)
    expect(err.message).toContain(file)
  })

  it('reads a key written by another tool (node:crypto PKCS#8 PEM)', async () => {
    const file = join(await tempDir(), 'node.key')
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    await writeFile(file, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 })
    const key = await readKeyFile(file)
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
    expect(Buffer.from(key.publicKey).equals(raw)).toBe(true)
  })
})

describe('NodeKey', () => {
  it('fromSeed is deterministic and different seeds give different keys', () => {
    const seed = new Uint8Array(32).fill(7)
    const a = NodeKey.fromSeed(seed)
    const b = NodeKey.fromSeed(Uint8Array.from(seed))
    expect(a.peerId.toString()).toBe(b.peerId.toString())
    expect(Buffer.from(a.publicKey).equals(Buffer.from(b.publicKey))).toBe(true)
    expect(Buffer.from(a.sign(message)).equals(Buffer.from(b.sign(message)))).toBe(true)
    const c = NodeKey.fromSeed(new Uint8Array(32).fill(8))
    expect(c.peerId.toString()).not.toBe(a.peerId.toString())
  })

  it('fromSeed matches @noble/ed25519 for the same seed', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i)
    const key = NodeKey.fromSeed(seed)
    expect(Buffer.from(key.publicKey).equals(Buffer.from(ed.getPublicKey(seed)))).toBe(true)
    expect(Buffer.from(key.sign(message)).equals(Buffer.from(ed.sign(message, seed)))).toBe(true)
  })

  it('fromSeed rejects a seed that is not 32 bytes', () => {
    expect(() => NodeKey.fromSeed(new Uint8Array(31))).toThrow(expect.objectContaining({ code: ErrorCode.KEY_INVALID }))
  })

  it('generate gives distinct Ed25519 PeerIds with a 32-byte public key', () => {
    const a = NodeKey.generate()
    const b = NodeKey.generate()
    expect(a.peerId.type).toBe('Ed25519')
    expect(a.peerId.toString()).toMatch(/^12D3KooW/)
    expect(a.publicKey).toHaveLength(32)
    expect(a.peerId.toString()).not.toBe(b.peerId.toString())
  })

  it('signatures verify with verifySignature, @noble/ed25519 and libp2p', async () => {
    const key = NodeKey.generate()
    const sig = key.sign(message)
    expect(sig).toHaveLength(64)
    expect(verifySignature(key.publicKey, message, sig)).toBe(true)
    expect(ed.verify(sig, message, key.publicKey)).toBe(true)
    expect(await key.privateKey.publicKey.verify(message, sig)).toBe(true)
    // libp2p's own signature verifies with ours
    const libp2pSig = await key.privateKey.sign(message)
    expect(verifySignature(key.publicKey, message, libp2pSig)).toBe(true)
  })

  it('a tampered message, signature or wrong key fails verification', async () => {
    const key = NodeKey.generate()
    const sig = key.sign(message)
    const otherMessage = Uint8Array.from(message)
    otherMessage[0] = (otherMessage[0] as number) ^ 1
    const otherSig = Uint8Array.from(sig)
    otherSig[10] = (otherSig[10] as number) ^ 0x80
    expect(verifySignature(key.publicKey, otherMessage, sig)).toBe(false)
    expect(verifySignature(key.publicKey, message, otherSig)).toBe(false)
    expect(verifySignature(NodeKey.generate().publicKey, message, sig)).toBe(false)
    expect(ed.verify(sig, otherMessage, key.publicKey)).toBe(false)
    expect(ed.verify(otherSig, message, key.publicKey)).toBe(false)
    expect(await key.privateKey.publicKey.verify(otherMessage, sig)).toBe(false)
  })

  it('verifySignature returns false, never throws, on malformed input', () => {
    const key = NodeKey.generate()
    const sig = key.sign(message)
    expect(verifySignature(key.publicKey.slice(0, 31), message, sig)).toBe(false)
    expect(verifySignature(new Uint8Array(33), message, sig)).toBe(false)
    expect(verifySignature(key.publicKey, message, sig.slice(0, 63))).toBe(false)
    expect(verifySignature(key.publicKey, message, new Uint8Array(65))).toBe(false)
    expect(verifySignature(key.publicKey, message, new Uint8Array(0))).toBe(false)
    expect(verifySignature(new Uint8Array(32).fill(0xff), message, sig)).toBe(false)
    expect(verifySignature(key.publicKey, message, new Uint8Array(64).fill(0xff))).toBe(false)
  })

  it('publicKeyFromPeerId recovers the public key and rejects bad PeerIds', () => {
    const key = NodeKey.generate()
    expect(Buffer.from(publicKeyFromPeerId(key.peerId.toString())).equals(Buffer.from(key.publicKey))).toBe(true)
    expect(() => publicKeyFromPeerId('nonsense')).toThrow(expect.objectContaining({ code: ErrorCode.KEY_INVALID }))
  })

  it('keeps the private key out of JSON, util.inspect and toString', () => {
    const seed = new Uint8Array(32).fill(0x42)
    const key = NodeKey.fromSeed(seed)
    const pem = key.toPem()
    expect(pem).toContain('BEGIN PRIVATE KEY')
    const pemBody = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('')
    const seedForms = [Buffer.from(seed).toString('hex'), Buffer.from(seed).toString('base64'), Buffer.from(seed).toString('base64url')]
    for (const text of [JSON.stringify(key), inspect(key, { depth: 10, showHidden: true }), String(key), JSON.stringify({ nested: { key } })]) {
      expect(text).toContain(key.peerId.toString())
      expect(text).not.toContain('PRIVATE KEY')
      expect(text).not.toContain(pemBody)
      for (const form of seedForms) expect(text).not.toContain(form)
    }
    expect(JSON.parse(JSON.stringify(key))).toEqual({ peerId: key.peerId.toString() })
  })
})

describe('verifySignature cache of valid signatures', () => {
  it('never turns a forgery into a success, however often the genuine signature was checked', () => {
    const key = NodeKey.generate()
    const other = NodeKey.generate()
    const message = new TextEncoder().encode('cached')
    const signature = key.sign(message)
    for (let i = 0; i < 3; i++) expect(verifySignature(key.publicKey, message, signature)).toBe(true)
    const tampered = Uint8Array.from(signature)
    tampered[0] = (tampered[0] as number) ^ 1
    expect(verifySignature(key.publicKey, message, tampered)).toBe(false)
    expect(verifySignature(other.publicKey, message, signature)).toBe(false)
    expect(verifySignature(key.publicKey, new TextEncoder().encode('cachee'), signature)).toBe(false)
    // a failure is not cached either: the genuine signature still verifies
    expect(verifySignature(key.publicKey, message, signature)).toBe(true)
  })

  it('stays correct past its size bound', () => {
    const key = NodeKey.generate()
    const first = new TextEncoder().encode('first')
    const firstSig = key.sign(first)
    expect(verifySignature(key.publicKey, first, firstSig)).toBe(true)
    for (let i = 0; i < 17_000; i++) {
      const m = new Uint8Array([i & 255, (i >> 8) & 255, 7])
      expect(verifySignature(key.publicKey, m, key.sign(m))).toBe(true)
    }
    expect(verifySignature(key.publicKey, first, firstSig)).toBe(true)
    expect(verifySignature(key.publicKey, first, new Uint8Array(64))).toBe(false)
  }, 30_000)
})
