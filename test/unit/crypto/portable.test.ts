import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { NodeKey, verifySignature } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'

function seed (byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte)
}

const alice = NodeKey.fromSeed(seed(0x11))
const bob = NodeKey.fromSeed(seed(0x22))
const utf8 = new TextEncoder()

function flip (bytes: Uint8Array, at: number, mask = 1): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[at] = (out[at] as number) ^ mask
  return out
}

/** Both verifiers, which must agree. */
function both (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  let portable: boolean | undefined
  let node: boolean | undefined
  expect(() => { portable = verifyPortable(publicKey, message, signature) }).not.toThrow()
  expect(() => { node = verifySignature(publicKey, message, signature) }).not.toThrow()
  expect(portable, 'verifyPortable and verifySignature disagree').toBe(node)
  return portable as boolean
}

describe('verifyPortable agrees with node:crypto verifySignature', () => {
  it('accepts valid NodeKey signatures', () => {
    for (const message of [new Uint8Array(0), utf8.encode('hello'), new Uint8Array(10_000).fill(7)]) {
      expect(both(alice.publicKey, message, alice.sign(message))).toBe(true)
      expect(both(bob.publicKey, message, bob.sign(message))).toBe(true)
    }
  })

  it('accepts valid signatures over random messages by random keys (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 300 }), (s, message) => {
      const key = NodeKey.fromSeed(s)
      expect(both(key.publicKey, message, key.sign(message))).toBe(true)
    }), { numRuns: 50 })
  })

  it('rejects a tampered message (every bit of a short message)', () => {
    const message = utf8.encode('pay 10')
    const signature = alice.sign(message)
    for (let i = 0; i < message.length; i++) {
      for (let bit = 0; bit < 8; bit++) expect(both(alice.publicKey, flip(message, i, 1 << bit), signature)).toBe(false)
    }
    expect(both(alice.publicKey, message.subarray(0, 5), signature)).toBe(false)
    expect(both(alice.publicKey, new Uint8Array([...message, 0]), signature)).toBe(false)
  })

  it('rejects a tampered signature (every byte)', () => {
    const message = utf8.encode('pay 10')
    const signature = alice.sign(message)
    for (let i = 0; i < 64; i++) expect(both(alice.publicKey, message, flip(signature, i, 0x40))).toBe(false)
  })

  it('rejects a signature with S ≥ ℓ (non-canonical: S + ℓ), as RFC 8032 strict verification requires', () => {
    const message = utf8.encode('malleable?')
    const signature = alice.sign(message)
    // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian in the last 32 bytes
    const L = (1n << 252n) + 27742317777372353535851937790883648493n
    let s = 0n
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i] as number)
    const sPlusL = s + L
    expect(sPlusL < (1n << 256n)).toBe(true)
    const forged = Uint8Array.from(signature)
    let v = sPlusL
    for (let i = 32; i < 64; i++) { forged[i] = Number(v & 0xffn); v >>= 8n }
    expect(both(alice.publicKey, message, forged)).toBe(false)
  })

  it('rejects the wrong key', () => {
    const message = utf8.encode('hello')
    expect(both(bob.publicKey, message, alice.sign(message))).toBe(false)
    expect(both(flip(alice.publicKey, 0), message, alice.sign(message))).toBe(false)
  })

  it('rejects a signature made for another message', () => {
    expect(both(alice.publicKey, utf8.encode('a'), alice.sign(utf8.encode('b')))).toBe(false)
  })

  it('returns false, without throwing, for wrong lengths and garbage', () => {
    const message = utf8.encode('hello')
    const signature = alice.sign(message)
    const cases: Array<[Uint8Array, Uint8Array]> = [
      [alice.publicKey.subarray(0, 31), signature],
      [new Uint8Array([...alice.publicKey, 0]), signature],
      [new Uint8Array(0), signature],
      [alice.publicKey, signature.subarray(0, 63)],
      [alice.publicKey, new Uint8Array([...signature, 0])],
      [alice.publicKey, new Uint8Array(0)],
      [alice.publicKey, new Uint8Array(64)],
      [alice.publicKey, new Uint8Array(64).fill(0xff)],
      [new Uint8Array(32), signature],
      [new Uint8Array(32).fill(0xff), signature]
    ]
    for (const [key, sig] of cases) expect(both(key, message, sig)).toBe(false)
  })

  it('agrees with node:crypto on random keys and signatures (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 40 }), (key, sig, message) => {
      both(key, message, sig)
    }), { numRuns: 100 })
  })
})
