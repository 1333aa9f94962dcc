import { describe, it, expect } from 'vitest'
import { ByteWriter, toHex } from '../../../src/codec/bytes.js'
import { HEADERS, requestSigningBytes, signRequest, verifyRequest } from '../../../src/epochs/auth.js'
import { sha256 } from '../../../src/crypto/hash.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { key } from '../block/fixtures.js'

const signer = key(0x51)
const other = key(0x52)
const NOW = 1_700_000_000_000
const SKEW = 30_000
const METHOD = 'POST'
const PATH = '/contract/epochs/3/submissions'
const BODY = new TextEncoder().encode('{"mode":"consensus","reports":[]}')

function headers (patch: Record<string, string | undefined> = {}, now = NOW): Record<string, string | undefined> {
  return { ...signRequest(signer.publicKey, (b) => signer.sign(b), METHOD, PATH, BODY, now), ...patch }
}

function refusal (h: Record<string, string | string[] | undefined>, opts: { method?: string, path?: string, body?: Uint8Array, now?: number } = {}): EphemeraError {
  try {
    verifyRequest(h, opts.method ?? METHOD, opts.path ?? PATH, opts.body ?? BODY, opts.now ?? NOW, SKEW, verifySignature)
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    expect((err as EphemeraError).code).toBe(ErrorCode.UNAUTHORIZED)
    return err as EphemeraError
  }
  throw new Error('expected verifyRequest to refuse the request')
}

describe('signRequest / verifyRequest', () => {
  it('round-trips: the verified request names the signer, nonce and timestamp', () => {
    const h = headers()
    expect(Object.keys(h).sort()).toEqual(['ephemera-key', 'ephemera-nonce', 'ephemera-signature', 'ephemera-timestamp'])
    expect(h[HEADERS.key]).toBe(toHex(signer.publicKey))
    expect(h[HEADERS.timestamp]).toBe(String(NOW))
    expect(h[HEADERS.nonce]).toMatch(/^[0-9a-f]{32}$/)
    expect(h[HEADERS.signature]).toMatch(/^[0-9a-f]{128}$/)
    const verified = verifyRequest(h, METHOD, PATH, BODY, NOW, SKEW, verifySignature)
    expect(toHex(verified.publicKey)).toBe(toHex(signer.publicKey))
    expect(verified.nonce).toBe(h[HEADERS.nonce])
    expect(verified.timestamp).toBe(NOW)
    // the portable verifier agrees
    expect(toHex(verifyRequest(h, METHOD, PATH, BODY, NOW, SKEW, verifyPortable).publicKey)).toBe(toHex(signer.publicKey))
  })

  it('signs the documented layout: tag ‖ method ‖ path ‖ SHA-256(body) ‖ u64 timestamp ‖ nonce', () => {
    const nonce = new Uint8Array(16).fill(7)
    const expected = new ByteWriter().tag('ephemera/request/v1').string16('POST').string16(PATH).bytes(sha256(BODY)).u64(NOW).bytes(nonce).finish()
    expect(toHex(requestSigningBytes('post', PATH, BODY, NOW, nonce))).toBe(toHex(expected))
    const h = headers()
    const fromHeaders = requestSigningBytes(METHOD, PATH, BODY, NOW, Buffer.from(h[HEADERS.nonce] as string, 'hex'))
    expect(verifySignature(signer.publicKey, fromHeaders, Buffer.from(h[HEADERS.signature] as string, 'hex'))).toBe(true)
  })

  it('uses a fresh random nonce per request', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => headers()[HEADERS.nonce]))
    expect(nonces.size).toBe(50)
  })

  it('treats the method case-insensitively (it is upper-cased before signing)', () => {
    expect(() => verifyRequest(headers(), 'post', PATH, BODY, NOW, SKEW, verifySignature)).not.toThrow()
  })

  it('accepts an empty body and upper-case hex', () => {
    const empty = new Uint8Array(0)
    const h = signRequest(signer.publicKey, (b) => signer.sign(b), 'POST', PATH, empty, NOW)
    expect(() => verifyRequest(h, 'POST', PATH, empty, NOW, SKEW, verifySignature)).not.toThrow()
    const upper = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.toUpperCase()]))
    expect(toHex(verifyRequest(upper, 'POST', PATH, empty, NOW, SKEW, verifySignature).publicKey)).toBe(toHex(signer.publicKey))
  })
})

describe('verifyRequest refuses (ERR_UNAUTHORIZED, naming the problem)', () => {
  it.each(Object.values(HEADERS))('a missing %s header', (name) => {
    expect(refusal(headers({ [name]: undefined })).message).toBe(`unsigned request: missing header ${name}`)
    expect(refusal(headers({ [name]: '' })).message).toBe(`unsigned request: missing header ${name}`)
  })

  it('a request with no headers at all', () => {
    expect(refusal({}).message).toMatch(/unsigned request: missing header ephemera-key/)
  })

  it('a header given twice (array value)', () => {
    const h: Record<string, string | string[] | undefined> = headers()
    h[HEADERS.nonce] = [h[HEADERS.nonce] as string, h[HEADERS.nonce] as string]
    expect(refusal(h).message).toMatch(/ephemera-nonce/)
  })

  it.each([
    ['not hex', 'zz'.repeat(32)],
    ['31 bytes', 'ab'.repeat(31)],
    ['33 bytes', 'ab'.repeat(33)],
    ['odd length', 'a'.repeat(63)]
  ])('a malformed key (%s)', (_name, value) => {
    expect(refusal(headers({ [HEADERS.key]: value })).message).toBe('ephemera-key must be a 32-byte hex public key')
  })

  it.each(['abc', '-5', '1.5', String(2 ** 60), 'NaN'])('a malformed timestamp %s', (value) => {
    expect(refusal(headers({ [HEADERS.timestamp]: value })).message).toBe('ephemera-timestamp must be milliseconds since the Unix epoch')
  })

  it.each([
    ['not hex', 'xy'.repeat(16)],
    ['15 bytes', '00'.repeat(15)],
    ['17 bytes', '00'.repeat(17)]
  ])('a malformed nonce (%s)', (_name, value) => {
    expect(refusal(headers({ [HEADERS.nonce]: value })).message).toBe('ephemera-nonce must be 16 bytes of hex')
  })

  it.each([
    ['not hex', 'g'.repeat(128)],
    ['63 bytes', 'ab'.repeat(63)],
    ['65 bytes', 'ab'.repeat(65)]
  ])('a malformed signature (%s)', (_name, value) => {
    expect(refusal(headers({ [HEADERS.signature]: value })).message).toBe('ephemera-signature must be 64 bytes of hex')
  })

  it('a timestamp outside the skew window, either way; the edge of the window is accepted', () => {
    const h = headers()
    expect(() => verifyRequest(h, METHOD, PATH, BODY, NOW + SKEW, SKEW, verifySignature)).not.toThrow()
    expect(() => verifyRequest(h, METHOD, PATH, BODY, NOW - SKEW, SKEW, verifySignature)).not.toThrow()
    const late = refusal(h, { now: NOW + SKEW + 1 })
    expect(late.message).toMatch(/request timestamp is 30 s off the coordinator's clock \(limit 30 s\)/)
    const early = refusal(h, { now: NOW - SKEW - 1 })
    expect(early.message).toMatch(/timestamp is -30 s off the coordinator's clock/)
    expect(refusal(headers({}, NOW - 3_600_000)).message).toMatch(/3600 s off/)
  })

  const doesNotVerify = /request signature does not verify/

  it('a changed method', () => {
    expect(refusal(headers(), { method: 'PUT' }).message).toMatch(doesNotVerify)
  })

  it('a changed path (including a query string or another epoch)', () => {
    expect(refusal(headers(), { path: '/contract/epochs/4/submissions' }).message).toMatch(doesNotVerify)
    expect(refusal(headers(), { path: `${PATH}/` }).message).toMatch(doesNotVerify)
  })

  it('any changed body byte, and an extra or a missing byte', () => {
    const h = headers()
    for (const at of [0, 5, BODY.length - 1]) {
      const body = Uint8Array.from(BODY)
      body[at] = (body[at] as number) ^ 0x20
      expect(refusal(h, { body }).message).toMatch(doesNotVerify)
    }
    expect(refusal(h, { body: new Uint8Array([...BODY, 0x20]) }).message).toMatch(doesNotVerify)
    expect(refusal(h, { body: BODY.subarray(0, BODY.length - 1) }).message).toMatch(doesNotVerify)
  })

  it('a changed timestamp (still within the window)', () => {
    expect(refusal(headers({ [HEADERS.timestamp]: String(NOW + 1) })).message).toMatch(doesNotVerify)
    expect(refusal(headers({ [HEADERS.timestamp]: String(NOW - 1_000) })).message).toMatch(doesNotVerify)
  })

  it('a changed nonce', () => {
    const h = headers()
    const nonce = h[HEADERS.nonce] as string
    const changed = (nonce[0] === '0' ? '1' : '0') + nonce.slice(1)
    expect(refusal({ ...h, [HEADERS.nonce]: changed }).message).toMatch(doesNotVerify)
  })

  it('a signature by another key than the one named, and a changed signature', () => {
    const h = headers()
    expect(refusal({ ...h, [HEADERS.key]: toHex(other.publicKey) }).message).toMatch(doesNotVerify)
    const sig = h[HEADERS.signature] as string
    expect(refusal({ ...h, [HEADERS.signature]: (sig[0] === 'f' ? 'e' : 'f') + sig.slice(1) }).message).toMatch(doesNotVerify)
  })
})
