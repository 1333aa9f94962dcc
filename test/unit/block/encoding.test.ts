import { createHash, verify as nodeVerify, createPublicKey } from 'node:crypto'
import * as ed from '@noble/ed25519'
import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import {
  HEADER_BYTES, TAGS, blockHash, buildBlock, decodeHeader, encodeHeader, membershipId, messageId, messageSigningBytes, messagesRoot,
  proposalSigningBytes, readySigningBytes
} from '../../../src/block/encoding.js'
import { BLOCK_VERSION, type BlockHeader, type ClientMessage } from '../../../src/block/types.js'
import { toHex } from '../../../src/codec/bytes.js'
import { merkleRoot } from '../../../src/crypto/merkle.js'
import { NodeKey, verifySignature } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'

const utf8 = new TextEncoder()

function sha256Hex (...parts: Uint8Array[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

/* independent big-endian helpers (Buffer), used to cross-check the documented layouts */
const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
const u64 = (n: number): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b }
const tag = (text: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(text, 'ascii')]), Buffer.from(text, 'ascii')])

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const safeU64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const headerArb: fc.Arbitrary<BlockHeader> = fc.record({
  version: fc.constant(BLOCK_VERSION),
  round: safeU64,
  creator: bytes32,
  height: safeU64,
  createdAt: safeU64,
  membershipId: bytes32,
  messageCount: fc.integer({ min: 0, max: 0xffffffff }),
  messagesRoot: bytes32
})

function sampleHeader (): BlockHeader {
  return {
    version: 1,
    round: 0x0102030405,
    creator: new Uint8Array(32).fill(0xc1),
    height: 9,
    createdAt: 1_700_000_000_000,
    membershipId: new Uint8Array(32).fill(0xd2),
    messageCount: 3,
    messagesRoot: new Uint8Array(32).fill(0xe3)
  }
}

describe('encodeHeader / decodeHeader', () => {
  it('HEADER_BYTES is the documented fixed size (144)', () => {
    expect(HEADER_BYTES).toBe(1 + 17 + 2 + 8 + 32 + 8 + 8 + 32 + 4 + 32)
    expect(HEADER_BYTES).toBe(144)
  })

  it('encodes exactly HEADER_BYTES bytes and round-trips (property)', () => {
    fc.assert(fc.property(headerArb, (h) => {
      const bytes = encodeHeader(h)
      expect(bytes.length).toBe(HEADER_BYTES)
      expect(decodeHeader(bytes)).toEqual(h)
    }))
  })

  it('lays the header out as documented', () => {
    const h = sampleHeader()
    const expected = Buffer.concat([
      tag('ephemera/block/v1'), u16(1), u64(h.round), h.creator, u64(h.height), u64(h.createdAt), h.membershipId, u32(h.messageCount), h.messagesRoot
    ])
    expect(toHex(encodeHeader(h))).toBe(expected.toString('hex'))
  })

  it('blockHash is SHA-256 of the encoded header (property)', () => {
    fc.assert(fc.property(headerArb, (h) => {
      expect(toHex(blockHash(h))).toBe(sha256Hex(encodeHeader(h)))
    }), { numRuns: 50 })
  })

  it('every header field changes the hash', () => {
    const base = sampleHeader()
    const hash = toHex(blockHash(base))
    const variants: Array<Partial<BlockHeader>> = [
      { round: base.round + 1 }, { creator: new Uint8Array(32).fill(0xc2) }, { height: base.height + 1 }, { createdAt: base.createdAt + 1 },
      { membershipId: new Uint8Array(32).fill(0xd3) }, { messageCount: base.messageCount + 1 }, { messagesRoot: new Uint8Array(32).fill(0xe4) }
    ]
    for (const v of variants) expect(toHex(blockHash({ ...base, ...v }))).not.toBe(hash)
  })

  it('rejects the wrong length', () => {
    const bytes = encodeHeader(sampleHeader())
    expect(() => decodeHeader(bytes.subarray(0, HEADER_BYTES - 1))).toThrow(RangeError)
    expect(() => decodeHeader(new Uint8Array([...bytes, 0]))).toThrow(RangeError)
    expect(() => decodeHeader(new Uint8Array(0))).toThrow(RangeError)
  })

  it('rejects a wrong tag', () => {
    const bytes = encodeHeader(sampleHeader())
    const wrongText = Uint8Array.from(bytes)
    wrongText[1 + 9] = 'B'.charCodeAt(0) // ephemera/Block/v1
    expect(() => decodeHeader(wrongText)).toThrow(/tag/)
    const otherVersionTag = Uint8Array.from(bytes)
    otherVersionTag[17] = '2'.charCodeAt(0) // ephemera/block/v2
    expect(() => decodeHeader(otherVersionTag)).toThrow(/tag/)
    // another layout's tag of the same length (ephemera/ready/v1 is also 17 bytes)
    const readyTag = Uint8Array.from(bytes)
    readyTag.set(utf8.encode(TAGS.ready), 1)
    expect(TAGS.ready.length).toBe(TAGS.header.length)
    expect(() => decodeHeader(readyTag)).toThrow(RangeError)
    const wrongLengthByte = Uint8Array.from(bytes)
    wrongLengthByte[0] = 16
    expect(() => decodeHeader(wrongLengthByte)).toThrow(RangeError)
  })

  it.each([0, 2, 0xffff])('rejects unsupported version %i', (version) => {
    const bytes = encodeHeader({ ...sampleHeader(), version })
    expect(bytes.length).toBe(HEADER_BYTES)
    expect(() => decodeHeader(bytes)).toThrow(/unsupported block version/)
  })

  it('rejects u64 fields above 2^53-1', () => {
    const bytes = encodeHeader(sampleHeader())
    const big = Uint8Array.from(bytes)
    big[20] = 0x01 // most significant byte of round (offset 1 + 17 + 2 = 20)
    expect(() => decodeHeader(big)).toThrow(RangeError)
  })

  it('refuses to encode out-of-range integers', () => {
    expect(() => encodeHeader({ ...sampleHeader(), round: -1 })).toThrow(RangeError)
    expect(() => encodeHeader({ ...sampleHeader(), height: 2 ** 53 })).toThrow(RangeError)
    expect(() => encodeHeader({ ...sampleHeader(), messageCount: 2 ** 32 })).toThrow(RangeError)
    expect(() => encodeHeader({ ...sampleHeader(), version: 65536 })).toThrow(RangeError)
  })
})

describe('messageSigningBytes', () => {
  it('lays out a small example byte by byte', () => {
    const bytes = messageSigningBytes({ timestamp: 0x0102030405, label: 'ab', data: new Uint8Array([0xde, 0xad]) })
    const expected = [
      19, ...utf8.encode('ephemera/message/v1'),
      0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, // u64 BE timestamp
      0, 2, 0x61, 0x62, // u16 label length, label
      0, 0, 0, 2, 0xde, 0xad // u32 data length, data
    ]
    expect([...bytes]).toEqual(expected)
    expect(bytes.length).toBe(1 + 19 + 8 + 2 + 2 + 4 + 2)
  })

  it('counts the label in UTF-8 bytes', () => {
    const bytes = messageSigningBytes({ timestamp: 0, label: 'é', data: new Uint8Array(0) })
    expect(toHex(bytes.subarray(28))).toBe('0002c3a9' + '00000000')
  })

  it('matches the documented layout for random messages (property)', () => {
    fc.assert(fc.property(safeU64, fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 100 }), (timestamp, label, data) => {
      const expected = Buffer.concat([tag(TAGS.message), u64(timestamp), u16(Buffer.byteLength(label)), Buffer.from(label, 'utf8'), u32(data.length), data])
      expect(toHex(messageSigningBytes({ timestamp, label, data }))).toBe(expected.toString('hex'))
    }))
  })

  it('is injective across the label/data boundary', () => {
    const a = messageSigningBytes({ timestamp: 1, label: 'ab', data: utf8.encode('c') })
    const b = messageSigningBytes({ timestamp: 1, label: 'a', data: utf8.encode('bc') })
    expect(toHex(a)).not.toBe(toHex(b))
  })
})

describe('messageId', () => {
  it('is SHA-256(tag ‖ signing bytes ‖ public key ‖ signature) and covers every field', () => {
    const key = NodeKey.fromSeed(new Uint8Array(32).fill(9))
    const body = { timestamp: 5, label: 'x', data: utf8.encode('y') }
    const m: ClientMessage = { ...body, publicKey: key.publicKey, signature: key.sign(messageSigningBytes(body)) }
    const id = toHex(messageId(m))
    expect(id).toBe(sha256Hex(tag(TAGS.messageId), messageSigningBytes(m), m.publicKey, m.signature))
    expect(toHex(messageId({ ...m, timestamp: 6 }))).not.toBe(id)
    expect(toHex(messageId({ ...m, label: 'z' }))).not.toBe(id)
    expect(toHex(messageId({ ...m, data: utf8.encode('z') }))).not.toBe(id)
    expect(toHex(messageId({ ...m, publicKey: new Uint8Array(32) }))).not.toBe(id)
    expect(toHex(messageId({ ...m, signature: new Uint8Array(64) }))).not.toBe(id)
  })
})

describe('membershipId', () => {
  const keys = [1, 2, 3, 4].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i)).publicKey)

  it('is SHA-256(tag ‖ u32 n ‖ keys in ascending byte order)', () => {
    const sorted = [...keys].sort(Buffer.compare)
    expect(toHex(membershipId(keys))).toBe(sha256Hex(tag(TAGS.membership), u32(4), ...sorted))
    expect(toHex(membershipId([]))).toBe(sha256Hex(tag(TAGS.membership), u32(0)))
  })

  it('is independent of order (every permutation of 4 keys)', () => {
    const id = toHex(membershipId(keys))
    const permute = (xs: Uint8Array[]): Uint8Array[][] => xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permute([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]))
    const perms = permute(keys)
    expect(perms).toHaveLength(24)
    for (const p of perms) expect(toHex(membershipId(p))).toBe(id)
  })

  it('does not reorder the caller\'s array', () => {
    const copy = [...keys]
    membershipId(copy)
    expect(copy).toEqual(keys)
  })

  it('changes with any key, with a key added or removed', () => {
    const id = toHex(membershipId(keys))
    for (let i = 0; i < keys.length; i++) {
      for (const at of [0, 31]) {
        const changed = [...keys]
        const k = Uint8Array.from(keys[i] as Uint8Array)
        k[at] = (k[at] as number) ^ 1
        changed[i] = k
        expect(toHex(membershipId(changed))).not.toBe(id)
      }
    }
    expect(toHex(membershipId(keys.slice(1)))).not.toBe(id)
    expect(toHex(membershipId([...keys, new Uint8Array(32)]))).not.toBe(id)
  })
})

describe('proposal vs READY signing bytes', () => {
  const creator = new Uint8Array(32).fill(0xaa)
  const hash = new Uint8Array(32).fill(0xbb)

  it('have the documented layouts', () => {
    expect(toHex(proposalSigningBytes(7, creator, hash))).toBe(Buffer.concat([tag('ephemera/propose/v1'), u64(7), creator, hash]).toString('hex'))
    expect(toHex(readySigningBytes(7, creator, hash))).toBe(Buffer.concat([tag('ephemera/ready/v1'), u64(7), creator, hash]).toString('hex'))
  })

  it('differ for the same inputs, so a READY signature is not a proposal signature', () => {
    const p = proposalSigningBytes(7, creator, hash)
    const r = readySigningBytes(7, creator, hash)
    expect(toHex(p)).not.toBe(toHex(r))
    const key = NodeKey.fromSeed(new Uint8Array(32).fill(5))
    expect(verifySignature(key.publicKey, p, key.sign(r))).toBe(false)
    expect(verifySignature(key.publicKey, r, key.sign(p))).toBe(false)
  })

  it('all tags are distinct', () => {
    expect(new Set(Object.values(TAGS)).size).toBe(Object.values(TAGS).length)
  })

  it('bind round, creator and hash', () => {
    const r = toHex(readySigningBytes(7, creator, hash))
    expect(toHex(readySigningBytes(8, creator, hash))).not.toBe(r)
    expect(toHex(readySigningBytes(7, hash, hash))).not.toBe(r)
    expect(toHex(readySigningBytes(7, creator, creator))).not.toBe(r)
  })
})

describe('buildBlock', () => {
  it('fills version, count and Merkle root', () => {
    const key = NodeKey.fromSeed(new Uint8Array(32).fill(3))
    const msgs: ClientMessage[] = ['a', 'b', 'c'].map((label) => {
      const body = { timestamp: 1, label, data: new Uint8Array(0) }
      return { ...body, publicKey: key.publicKey, signature: key.sign(messageSigningBytes(body)) }
    })
    const block = buildBlock({ round: 1, creator: key.publicKey, height: 1, createdAt: 2, membershipId: new Uint8Array(32) }, msgs)
    expect(block.header.version).toBe(BLOCK_VERSION)
    expect(block.header.messageCount).toBe(3)
    expect(toHex(block.header.messagesRoot)).toBe(toHex(merkleRoot(msgs.map(messageId))))
    expect(toHex(block.header.messagesRoot)).toBe(toHex(messagesRoot(msgs)))
    expect(toHex(buildBlock({ ...block.header }, []).header.messagesRoot)).toBe(sha256Hex(new Uint8Array(0)))
  })
})

/**
 * Test vector (docs/PROTOCOL.md). The expected values are frozen here AND recomputed from the
 * documented layouts with node:crypto, so a change in either the code or this file is caught.
 */
describe('test vector', () => {
  const V = {
    creatorPublicKey: '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c',
    creatorPeerId: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5',
    clientPublicKey: '8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394',
    clientPeerId: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
    messageSigningBytes: '13657068656d6572612f6d6573736167652f76310000018bcfe568000004746573740000000568656c6c6f',
    messageSignature: '2595036f2bb5192034c7d77a81395c769e4bd5975fe84a0501300ef646d6fac797e5635df8508157d71c07812befa837beb98500d0326c3500f6a91f81201c06',
    messageId: '1934c840010054ed69a079707025ddf4792be3a81c538458de16dd5c65961893',
    messagesRoot: 'd764374063073e7c7b2f35609b5d3b1be086290ede99ec475c9f028a56ff7521',
    membershipId: '9dbc913f1cb55c8d19676a149987aeb108ecadfebbecf57c579117198379b11b',
    header: '11657068656d6572612f626c6f636b2f7631' + '0001' + '0000000000000007' +
      '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c' + '0000000000000003' + '0000018bcfe5687b' +
      '9dbc913f1cb55c8d19676a149987aeb108ecadfebbecf57c579117198379b11b' + '00000001' +
      'd764374063073e7c7b2f35609b5d3b1be086290ede99ec475c9f028a56ff7521',
    blockHash: '326f3423a2ccf5f621b8c09d99469d90a56e9bdced0c764e0d47badf88231829',
    readySigningBytes: '11657068656d6572612f72656164792f7631' + '0000000000000007' +
      '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c' +
      '326f3423a2ccf5f621b8c09d99469d90a56e9bdced0c764e0d47badf88231829',
    readySignature: '0f9e186ca1c9c536b936d8399634b7c92f073f3b4b128feae0ecb6981589373ac9a4185ed6a5f8e7e6df08575c85a7211545e5863469ad57f7899fd7618a0004'
  }

  const creator = NodeKey.fromSeed(new Uint8Array(32).fill(0x01))
  const client = NodeKey.fromSeed(new Uint8Array(32).fill(0x02))
  const body = { timestamp: 1700000000000, label: 'test', data: utf8.encode('hello') }
  const message: ClientMessage = { ...body, publicKey: client.publicKey, signature: client.sign(messageSigningBytes(body)) }
  const mid = membershipId([creator.publicKey, client.publicKey])
  const block = buildBlock({ round: 7, creator: creator.publicKey, height: 3, createdAt: 1700000000123, membershipId: mid }, [message])
  const hash = blockHash(block.header)
  const ready = readySigningBytes(7, creator.publicKey, hash)

  it('keys (cross-checked with @noble/ed25519)', () => {
    expect(toHex(creator.publicKey)).toBe(V.creatorPublicKey)
    expect(toHex(client.publicKey)).toBe(V.clientPublicKey)
    expect(toHex(ed.getPublicKey(new Uint8Array(32).fill(0x01)))).toBe(V.creatorPublicKey)
    expect(toHex(ed.getPublicKey(new Uint8Array(32).fill(0x02)))).toBe(V.clientPublicKey)
    expect(creator.peerId.toString()).toBe(V.creatorPeerId)
    expect(client.peerId.toString()).toBe(V.clientPeerId)
  })

  it('message signing bytes', () => {
    expect(toHex(messageSigningBytes(body))).toBe(V.messageSigningBytes)
    const independent = Buffer.concat([
      Buffer.from([19]), Buffer.from('ephemera/message/v1', 'ascii'), u64(1700000000000), u16(4), Buffer.from('test'), u32(5), Buffer.from('hello')
    ])
    expect(independent.toString('hex')).toBe(V.messageSigningBytes)
    expect(V.messageSigningBytes.slice(40, 56)).toBe('0000018bcfe56800') // 1700000000000 = 0x18bcfe56800
  })

  it('message signature (deterministic Ed25519, checked by node:crypto and noble)', () => {
    expect(toHex(message.signature)).toBe(V.messageSignature)
    const sb = Buffer.from(V.messageSigningBytes, 'hex')
    const sig = Buffer.from(V.messageSignature, 'hex')
    expect(toHex(ed.sign(sb, new Uint8Array(32).fill(0x02)))).toBe(V.messageSignature)
    expect(verifyPortable(Buffer.from(V.clientPublicKey, 'hex'), sb, sig)).toBe(true)
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(V.clientPublicKey, 'hex')]), format: 'der', type: 'spki' })
    expect(nodeVerify(null, sb, spki, sig)).toBe(true)
  })

  it('message id', () => {
    expect(toHex(messageId(message))).toBe(V.messageId)
    expect(sha256Hex(Buffer.from([22]), Buffer.from('ephemera/message-id/v1', 'ascii'), Buffer.from(V.messageSigningBytes, 'hex'),
      Buffer.from(V.clientPublicKey, 'hex'), Buffer.from(V.messageSignature, 'hex'))).toBe(V.messageId)
  })

  it('messages root (one leaf: SHA-256(0x00 ‖ message id))', () => {
    expect(toHex(block.header.messagesRoot)).toBe(V.messagesRoot)
    expect(sha256Hex(Buffer.from([0]), Buffer.from(V.messageId, 'hex'))).toBe(V.messagesRoot)
  })

  it('membership id (keys sorted: the client key 81… sorts before the creator key 8a…)', () => {
    expect(toHex(mid)).toBe(V.membershipId)
    expect(toHex(membershipId([client.publicKey, creator.publicKey]))).toBe(V.membershipId)
    expect(sha256Hex(Buffer.from([22]), Buffer.from('ephemera/membership/v1', 'ascii'), u32(2),
      Buffer.from(V.clientPublicKey, 'hex'), Buffer.from(V.creatorPublicKey, 'hex'))).toBe(V.membershipId)
  })

  it('header', () => {
    const encoded = encodeHeader(block.header)
    expect(toHex(encoded)).toBe(V.header)
    expect(V.header.length).toBe(2 * HEADER_BYTES)
    const independent = Buffer.concat([
      Buffer.from([17]), Buffer.from('ephemera/block/v1', 'ascii'), u16(1), u64(7), Buffer.from(V.creatorPublicKey, 'hex'), u64(3), u64(1700000000123),
      Buffer.from(V.membershipId, 'hex'), u32(1), Buffer.from(V.messagesRoot, 'hex')
    ])
    expect(independent.toString('hex')).toBe(V.header)
    // NodeKey.publicKey is a Buffer; compare as plain bytes
    expect(decodeHeader(encoded)).toEqual({ ...block.header, creator: Uint8Array.from(block.header.creator) })
  })

  it('block hash', () => {
    expect(toHex(hash)).toBe(V.blockHash)
    expect(sha256Hex(Buffer.from(V.header, 'hex'))).toBe(V.blockHash)
  })

  it('READY signing bytes and signature', () => {
    expect(toHex(ready)).toBe(V.readySigningBytes)
    const independent = Buffer.concat([Buffer.from([17]), Buffer.from('ephemera/ready/v1', 'ascii'), u64(7), Buffer.from(V.creatorPublicKey, 'hex'), Buffer.from(V.blockHash, 'hex')])
    expect(independent.toString('hex')).toBe(V.readySigningBytes)
    expect(toHex(creator.sign(ready))).toBe(V.readySignature)
    expect(toHex(ed.sign(independent, new Uint8Array(32).fill(0x01)))).toBe(V.readySignature)
    expect(verifySignature(creator.publicKey, ready, Buffer.from(V.readySignature, 'hex'))).toBe(true)
    expect(verifyPortable(creator.publicKey, ready, Buffer.from(V.readySignature, 'hex'))).toBe(true)
  })
})
