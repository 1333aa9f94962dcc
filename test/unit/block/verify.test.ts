import { describe, it, expect } from 'vitest'
import { blockHash, buildBlock, readySigningBytes } from '../../../src/block/encoding.js'
import type { Block, Certificate } from '../../../src/block/types.js'
import { verifyCertifiedBlock, type VerifyInput, type VerifyReport } from '../../../src/block/verify.js'
import { toHex } from '../../../src/codec/bytes.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'
import { certifiedBlock, key, members, signedMessage } from './fixtures.js'

const keys = members(4)
const client = key(0x0c)
const outsider = key(0x0f)
const messages = [signedMessage(client, { label: 'a', data: 'first' }), signedMessage(key(0x0d), { label: 'b', data: 'second' })]
const certified = certifiedBlock({ members: keys, creator: 0, round: 4, height: 2, messages, signers: [0, 1, 2] })

function input (patch: Partial<VerifyInput> = {}): VerifyInput {
  return {
    block: certified.block,
    claimedHash: certified.hash,
    certificate: certified.certificate,
    members: keys.map((k) => k.publicKey),
    verify: verifySignature,
    ...patch
  }
}

function flip (bytes: Uint8Array, at = 0): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[at] = (out[at] as number) ^ 1
  return out
}

function failed (report: VerifyReport): string[] {
  return report.checks.filter((c) => !c.ok).map((c) => c.name)
}

function withSignatures (signatures: Certificate['signatures']): Certificate {
  return { ...certified.certificate, signatures }
}

const readyPayload = readySigningBytes(4, (keys[0] as typeof client).publicKey, certified.hash)

describe('verifyCertifiedBlock', () => {
  it.each([['verifySignature (node:crypto)', verifySignature], ['verifyPortable (@noble/ed25519)', verifyPortable]])('accepts a correctly certified block with %s', (_name, verify) => {
    const report = verifyCertifiedBlock(input({ verify }))
    expect(report.failure).toBeUndefined()
    expect(report.ok).toBe(true)
    expect(report.signers).toBe(3)
    expect(report.quorum).toBe(3)
    expect(report.checks.map((c) => c.name)).toEqual([
      'header fields', 'block hash', 'message count', 'Merkle root', 'distinct messages', 'message signatures', 'membership', 'creator is a member', 'certificate is for this block', 'certificate signatures', 'quorum'
    ])
    expect(report.checks.every((c) => c.ok)).toBe(true)
    expect(report.checks.find((c) => c.name === 'block hash')?.detail).toBe(toHex(certified.hash))
  })

  it('accepts all 4 signatures, in any order', () => {
    const all = certifiedBlock({ members: keys, creator: 0, round: 4, height: 2, messages })
    const report = verifyCertifiedBlock(input({ certificate: { ...all.certificate, signatures: [...all.certificate.signatures].reverse() } }))
    expect(report.ok).toBe(true)
    expect(report.signers).toBe(4)
  })

  it('quorum for n = 1, 4, 7 members is n - floor((n-1)/3)', () => {
    for (const [n, q] of [[1, 1], [4, 3], [7, 5]] as const) {
      const ks = members(n)
      const c = certifiedBlock({ members: ks, round: 1, signers: Array.from({ length: q }, (_, i) => i) })
      const ok = verifyCertifiedBlock({ block: c.block, claimedHash: c.hash, certificate: c.certificate, members: ks.map((k) => k.publicKey), verify: verifySignature })
      expect(ok.ok, `n=${n}`).toBe(true)
      expect(ok.quorum).toBe(q)
      if (q > 1) {
        const short = verifyCertifiedBlock({ block: c.block, claimedHash: c.hash, certificate: { ...c.certificate, signatures: c.certificate.signatures.slice(1) }, members: ks.map((k) => k.publicKey), verify: verifySignature })
        expect(short.failure).toMatch(/^quorum: /)
      }
    }
  })

  it('reports the quorum of docs/PROTOCOL.md §2.6 for n = 1..10', () => {
    const table = [[1, 1], [2, 2], [3, 3], [4, 3], [5, 4], [6, 5], [7, 5], [8, 6], [9, 7], [10, 7]]
    for (const [n, q] of table) {
      const ks = members(n as number)
      const c = certifiedBlock({ members: ks, round: 1, signers: [] })
      const report = verifyCertifiedBlock({ block: c.block, claimedHash: c.hash, certificate: c.certificate, members: ks.map((k) => k.publicKey), verify: verifySignature })
      expect(report.quorum, `n=${n}`).toBe(q)
      expect(report.failure).toBe(`quorum: 0 distinct members signed, quorum is ${q} of ${n}`)
    }
  })

  describe.each([['verifySignature', verifySignature], ['verifyPortable', verifyPortable]])('tampering is caught (%s)', (_name, verify) => {
    const run = (patch: Partial<VerifyInput>): VerifyReport => {
      const report = verifyCertifiedBlock(input({ verify, ...patch }))
      expect(report.ok).toBe(false)
      expect(report.failure).toBeDefined()
      return report
    }

    it('a flipped byte in one certificate signature → certificate signatures', () => {
      const sigs = certified.certificate.signatures.map((s, i) => i === 1 ? { ...s, signature: flip(s.signature, 7) } : s)
      const report = run({ certificate: withSignatures(sigs) })
      expect(report.failure).toMatch(/^certificate signatures: signature 1 \(by 12D3KooW\w+\): signature does not verify/)
      expect(report.signers).toBe(2)
    })

    it('only 2 signatures → quorum', () => {
      const report = run({ certificate: withSignatures(certified.certificate.signatures.slice(0, 2)) })
      expect(report.failure).toBe('quorum: 2 distinct members signed, quorum is 3 of 4')
      expect(failed(report)).toEqual(['quorum'])
    })

    it('a signature by a non-member key → not a member', () => {
      const sigs = [...certified.certificate.signatures.slice(0, 2), { signer: outsider.publicKey, signature: outsider.sign(readyPayload) }]
      const report = run({ certificate: withSignatures(sigs) })
      expect(report.failure).toMatch(/^certificate signatures: signature 2 \(by 12D3KooW\w+\): signer is not a member/)
      expect(report.failure).toContain(outsider.peerId.toString())
      expect(report.signers).toBe(2)
    })

    it('a duplicate signer does not count twice', () => {
      const s = certified.certificate.signatures
      const report = run({ certificate: withSignatures([s[0], s[1], s[1]] as Certificate['signatures']) })
      expect(report.failure).toMatch(/^certificate signatures: signature 2 .*duplicate signer/)
      expect(failed(report)).toEqual(['certificate signatures', 'quorum'])
      expect(report.signers).toBe(2)
    })

    it('a member\'s signature over another payload (PROPOSE-style bytes, another round) does not verify', () => {
      const k = keys[3] as typeof client
      const sigs = [...certified.certificate.signatures.slice(0, 2), { signer: k.publicKey, signature: k.sign(readySigningBytes(5, (keys[0] as typeof client).publicKey, certified.hash)) }]
      expect(run({ certificate: withSignatures(sigs) }).failure).toMatch(/^certificate signatures: .*signature does not verify/)
    })

    it('a changed message data byte → Merkle root / message signatures', () => {
      const m = messages[1] as (typeof messages)[number]
      const block: Block = { ...certified.block, messages: [messages[0] as typeof m, { ...m, data: flip(m.data, 2) }] }
      const report = run({ block })
      expect(report.failure).toMatch(/^(Merkle root|message signatures): /)
      expect(failed(report)).toEqual(['Merkle root', 'message signatures'])
      expect(report.checks.find((c) => c.name === 'message signatures')?.detail).toMatch(/^message 1: signature does not verify/)
    })

    it('a badly signed message in a consistently hashed and certified block → message signatures', () => {
      const m = messages[1] as (typeof messages)[number]
      const bad = certifiedBlock({ members: keys, round: 4, height: 2, messages: [messages[0] as typeof m, { ...m, signature: flip(m.signature, 3) }], signers: [0, 1, 2] })
      const report = run({ block: bad.block, claimedHash: bad.hash, certificate: bad.certificate })
      expect(failed(report)).toEqual(['message signatures'])
      expect(report.failure).toMatch(/^message signatures: message 1: signature does not verify/)
    })

    it('a consistently hashed and certified block of another version, or with height 0 → header fields', () => {
      for (const [change, expected] of [[{ version: 2 }, 'header fields: version 2, expected 1'], [{ height: 0 }, 'header fields: round 4, height 0: both start at 1']] as const) {
        const header = { ...certified.block.header, ...change }
        const hash = blockHash(header)
        const payload = readySigningBytes(header.round, header.creator, hash)
        const certificate = { round: header.round, creator: header.creator, blockHash: hash, signatures: keys.slice(0, 3).map((k) => ({ signer: k.publicKey, signature: k.sign(payload) })) }
        const report = run({ block: { ...certified.block, header }, claimedHash: hash, certificate })
        expect(failed(report)).toEqual(['header fields'])
        expect(report.failure).toBe(expected)
      }
    })

    it('a consistently hashed and certified block holding one message twice → distinct messages', () => {
      const twice = certifiedBlock({ members: keys, round: 4, height: 2, messages: [messages[0]!, messages[0]!], signers: [0, 1, 2] })
      const report = run({ block: twice.block, claimedHash: twice.hash, certificate: twice.certificate })
      expect(failed(report)).toEqual(['distinct messages'])
      expect(report.failure).toBe('distinct messages: message 1 repeats message 0')
    })

    it('a dropped message → message count', () => {
      const report = run({ block: { ...certified.block, messages: messages.slice(0, 1) } })
      expect(report.failure).toMatch(/^message count: header says 2, block has 1/)
    })

    it.each<[string, Partial<Block['header']>]>([
      ['createdAt', { createdAt: certified.block.header.createdAt + 1 }],
      ['height', { height: 3 }],
      ['round', { round: 5 }],
      ['messagesRoot', { messagesRoot: flip(certified.block.header.messagesRoot) }]
    ])('a changed header field (%s) with the original claimed hash → block hash', (_field, change) => {
      const report = run({ block: { ...certified.block, header: { ...certified.block.header, ...change } } })
      expect(report.failure).toMatch(/^block hash: header hashes to [0-9a-f]{64}, published as [0-9a-f]{64}/)
      expect(report.failure).toContain(toHex(certified.hash))
    })

    it('a wrong claimed hash → block hash', () => {
      expect(run({ claimedHash: flip(certified.hash) }).failure).toMatch(/^block hash: /)
    })

    it('a wrong members list → membership', () => {
      const extra = run({ members: [...keys, outsider].map((k) => k.publicKey) })
      expect(extra.failure).toMatch(/^membership: the 5 members given hash to [0-9a-f]{64}, the header was proposed under [0-9a-f]{64}/)
      const fewer = run({ members: keys.slice(0, 3).map((k) => k.publicKey) })
      expect(fewer.failure).toMatch(/^membership: /)
      const swapped = run({ members: [...keys.slice(0, 3), outsider].map((k) => k.publicKey) })
      expect(swapped.failure).toMatch(/^membership: /)
    })

    it('a creator that is not a member → creator is a member', () => {
      const c = certifiedBlock({ members: [outsider, ...keys], creator: 0, round: 4, messages, signers: [1, 2, 3] })
      // header claims the real 4-member membership, but its creator is the outsider
      const block = buildBlock({ ...c.block.header, membershipId: certified.membershipId }, messages)
      const hash = blockHash(block.header)
      const payload = readySigningBytes(4, outsider.publicKey, hash)
      const certificate: Certificate = { round: 4, creator: outsider.publicKey, blockHash: hash, signatures: keys.slice(0, 3).map((k) => ({ signer: k.publicKey, signature: k.sign(payload) })) }
      const report = run({ block, claimedHash: hash, certificate })
      expect(failed(report)).toEqual(['creator is a member'])
    })

    it('a certificate for another round → certificate is for this block', () => {
      const report = run({ certificate: { ...certified.certificate, round: 5 } })
      expect(report.failure).toBe('certificate is for this block: certificate names another block, round or creator')
    })

    it('a certificate naming another block hash or creator → certificate is for this block', () => {
      expect(run({ certificate: { ...certified.certificate, blockHash: flip(certified.hash) } }).failure).toMatch(/^certificate is for this block: /)
      expect(run({ certificate: { ...certified.certificate, creator: (keys[1] as typeof client).publicKey } }).failure).toMatch(/^certificate is for this block: /)
    })

    it('a certificate of another block by the same creator and round → certificate is for this block', () => {
      const other = certifiedBlock({ members: keys, creator: 0, round: 4, height: 2, createdAt: 1, messages, signers: [0, 1, 2] })
      const report = run({ certificate: other.certificate })
      expect(report.failure).toMatch(/^certificate is for this block: /)
      expect(failed(report)).toContain('certificate signatures')
    })

    it('no signatures at all', () => {
      const report = run({ certificate: withSignatures([]) })
      expect(failed(report)).toEqual(['quorum'])
      expect(report.signers).toBe(0)
    })

    it('a wrong-length signature fails without throwing', () => {
      const k = keys[3] as typeof client
      const sigs = [...certified.certificate.signatures.slice(0, 2), { signer: k.publicKey, signature: k.sign(readyPayload).subarray(0, 63) }]
      expect(() => verifyCertifiedBlock(input({ verify, certificate: withSignatures(sigs) }))).not.toThrow()
      expect(run({ certificate: withSignatures(sigs) }).failure).toMatch(/^certificate signatures: signature 2 .*signature does not verify/)
    })

    // the parsers (certificateFromWire/FromJson) enforce 32 bytes; direct callers get a report, not a throw
    it('a signer key that is not 32 bytes fails without throwing', () => {
      const sigs = [...certified.certificate.signatures.slice(0, 2), { signer: new Uint8Array(5), signature: new Uint8Array(64) }]
      expect(() => verifyCertifiedBlock(input({ verify, certificate: withSignatures(sigs) }))).not.toThrow()
      expect(run({ certificate: withSignatures(sigs) }).failure).toMatch(/^certificate signatures: /)
    })
  })
})
