import { describe, it, expect } from 'vitest'
import { buildBlock, membershipId } from '../../../src/block/encoding.js'
import { LIMITS, type Block, type ClientMessage } from '../../../src/block/types.js'
import { checkBlock, checkMessage, type BlockContext } from '../../../src/block/validate.js'
import { toHex } from '../../../src/codec/bytes.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'
import { key, members, signedMessage } from './fixtures.js'

const client = key(0x0c)
const keys = members(4)
const outsider = key(0x0f)
const mid = membershipId(keys.map((k) => k.publicKey))
const ctx: BlockContext = { members: new Set(keys.map((k) => toHex(k.publicKey))), membershipId: mid, verify: verifySignature }

function flip (bytes: Uint8Array, at = 0): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[at] = (out[at] as number) ^ 1
  return out
}

describe('checkMessage', () => {
  const good = signedMessage(client, { label: 'l', data: 'd' })

  it('accepts a well-signed message (both verifiers)', () => {
    expect(checkMessage(good, verifySignature)).toBeUndefined()
    expect(checkMessage(good, verifyPortable)).toBeUndefined()
  })

  it('accepts a label of exactly LIMITS.labelBytes bytes and data of exactly LIMITS.dataBytes', () => {
    const m = signedMessage(client, { label: 'x'.repeat(LIMITS.labelBytes), data: new Uint8Array(LIMITS.dataBytes) })
    expect(checkMessage(m, verifySignature)).toBeUndefined()
  })

  it.each<[string, () => ClientMessage, RegExp]>([
    ['a bad signature', () => ({ ...good, signature: flip(good.signature, 10) }), /signature does not verify/],
    ['a tampered label', () => ({ ...good, label: 'm' }), /signature does not verify/],
    ['a tampered data byte', () => ({ ...good, data: flip(good.data) }), /signature does not verify/],
    ['a tampered timestamp', () => ({ ...good, timestamp: good.timestamp + 1 }), /signature does not verify/],
    ['another signer\'s key', () => ({ ...good, publicKey: outsider.publicKey }), /signature does not verify/],
    ['a label too long (validly signed)', () => signedMessage(client, { label: 'x'.repeat(LIMITS.labelBytes + 1) }), /label is longer than 256 bytes/],
    ['a label too long in UTF-8 bytes', () => signedMessage(client, { label: 'é'.repeat(LIMITS.labelBytes / 2 + 1) }), /label is longer than 256 bytes/],
    ['data too large (validly signed)', () => signedMessage(client, { data: new Uint8Array(LIMITS.dataBytes + 1) }), /data is larger than 65536 bytes/],
    ['a negative timestamp', () => ({ ...good, timestamp: -1 }), /timestamp must be a non-negative integer/],
    ['a fractional timestamp', () => ({ ...good, timestamp: 1.5 }), /timestamp must be a non-negative integer/],
    ['an unsafe timestamp', () => ({ ...good, timestamp: 2 ** 53 }), /timestamp must be a non-negative integer/],
    ['a 31-byte public key', () => ({ ...good, publicKey: good.publicKey.subarray(0, 31) }), /publicKey must be 32 bytes/],
    ['a 63-byte signature', () => ({ ...good, signature: good.signature.subarray(0, 63) }), /signature must be 64 bytes/]
  ])('rejects %s', (_name, make, reason) => {
    const m = make()
    expect(checkMessage(m, verifySignature)).toMatch(reason)
    expect(checkMessage(m, verifyPortable)).toMatch(reason)
  })

  it('does not call verify for structurally invalid messages, and calls it with the signing bytes otherwise', () => {
    const calls: Array<[Uint8Array, Uint8Array, Uint8Array]> = []
    const spy = (k: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => { calls.push([k, msg, sig]); return true }
    expect(checkMessage({ ...good, signature: new Uint8Array(10) }, spy)).toBeDefined()
    expect(calls).toHaveLength(0)
    expect(checkMessage(good, spy)).toBeUndefined()
    expect(calls).toHaveLength(1)
    expect(toHex(calls[0]?.[0] as Uint8Array)).toBe(toHex(client.publicKey))
    expect(toHex(calls[0]?.[2] as Uint8Array)).toBe(toHex(good.signature))
  })
})

describe('checkBlock', () => {
  const m1 = signedMessage(client, { label: 'one', data: '1' })
  const m2 = signedMessage(client, { label: 'two', data: '2' })
  const fields = { round: 5, creator: (keys[0] as typeof client).publicKey, height: 2, createdAt: 1_700_000_000_000, membershipId: mid }
  const good = buildBlock(fields, [m1, m2])

  it('accepts a valid block (and an empty one)', () => {
    expect(checkBlock(good, ctx)).toBeUndefined()
    expect(checkBlock(good, { ...ctx, verify: verifyPortable })).toBeUndefined()
    expect(checkBlock(buildBlock(fields, []), ctx)).toBeUndefined()
  })

  it.each<[string, () => Block, RegExp]>([
    ['an unsupported version', () => ({ ...good, header: { ...good.header, version: 2 } }), /unsupported block version 2/],
    ['a creator that is not a member', () => buildBlock({ ...fields, creator: outsider.publicKey }, [m1, m2]), /creator is not a member/],
    ['a wrong membership id', () => buildBlock({ ...fields, membershipId: membershipId(keys.slice(0, 3).map((k) => k.publicKey)) }, [m1, m2]), /different membership/],
    ['round 0', () => buildBlock({ ...fields, round: 0 }, [m1, m2]), /round and height start at 1/],
    ['height 0', () => buildBlock({ ...fields, height: 0 }, [m1, m2]), /round and height start at 1/],
    ['a count mismatch (header says 3)', () => ({ ...good, header: { ...good.header, messageCount: 3 } }), /header says 3 messages, block has 2/],
    ['a count mismatch (a message dropped)', () => ({ ...good, messages: [m1] }), /header says 2 messages, block has 1/],
    ['a root mismatch (messages reordered)', () => ({ ...good, messages: [m2, m1] }), /messagesRoot does not match/],
    ['a root mismatch (a message swapped)', () => ({ ...good, messages: [m1, signedMessage(client, { label: 'three' })] }), /messagesRoot does not match/],
    ['a root mismatch (header root changed)', () => ({ ...good, header: { ...good.header, messagesRoot: flip(good.header.messagesRoot) } }), /messagesRoot does not match/],
    ['a duplicate message', () => buildBlock(fields, [m1, m2, m1]), /message 2 is a duplicate/],
    ['a message with a bad signature inside the block', () => buildBlock(fields, [m1, { ...m2, signature: flip(m2.signature, 40) }]), /message 1: signature does not verify/],
    ['a message with a tampered label inside the block', () => buildBlock(fields, [{ ...m1, label: 'uno' }, m2]), /message 0: signature does not verify/],
    ['a message with an oversize label inside the block', () => buildBlock(fields, [m1, signedMessage(client, { label: 'x'.repeat(LIMITS.labelBytes + 1) })]), /message 1: label is longer/]
  ])('rejects %s', (_name, make, reason) => {
    expect(checkBlock(make(), ctx)).toMatch(reason)
  })

  it('rejects more than LIMITS.messagesPerBlock messages', () => {
    const many = Array.from({ length: LIMITS.messagesPerBlock + 1 }, () => m1)
    const block: Block = { header: { ...good.header, messageCount: many.length }, messages: many }
    expect(checkBlock(block, ctx)).toMatch(/more than 2000 messages/)
  })

  it('depends on the membership given: the same block fails under another member set', () => {
    const other: BlockContext = { ...ctx, members: new Set(keys.slice(1).map((k) => toHex(k.publicKey))) }
    expect(checkBlock(good, other)).toMatch(/creator is not a member/)
  })
})
