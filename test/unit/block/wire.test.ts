import { describe, it, expect } from 'vitest'
import { HEADER_BYTES, encodeHeader } from '../../../src/block/encoding.js'
import { LIMITS, type Block } from '../../../src/block/types.js'
import { blockFromWire, blockToWire, certificateFromWire, certificateToWire, messageFromWire, messageToWire } from '../../../src/block/wire.js'
import { DecodeError, decodeCbor, encodeCbor } from '../../../src/codec/cbor.js'
import { toHex } from '../../../src/codec/bytes.js'
import { ErrorCode } from '../../../src/util/errors.js'
import { certifiedBlock, key, members, signedMessage } from './fixtures.js'

/** Uint8Array/Buffer → hex, recursively, so decoded values compare with the (Buffer-keyed) originals. */
function norm (value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value)
  if (Array.isArray(value)) return value.map(norm)
  if (value != null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]))
  return value
}

const roundTrip = (value: unknown): unknown => decodeCbor(encodeCbor(value), LIMITS.blockBytes, 'test')

function decodeErr (fn: () => unknown): DecodeError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError)
    expect((err as DecodeError).code).toBe(ErrorCode.DECODE)
    return err as DecodeError
  }
  throw new Error('expected a DecodeError')
}

const keys = members(4)
const client = key(0x0c)
const msgA = signedMessage(client, { label: 'a', data: 'alpha' })
const msgB = signedMessage(client, { label: 'b', data: new Uint8Array(0), timestamp: 0 })
const certified = certifiedBlock({ members: keys, round: 3, messages: [msgA, msgB], signers: [0, 1, 2] })

describe('wire round trips', () => {
  it('message', () => {
    const wire = messageToWire(msgA)
    expect(wire).toHaveLength(5)
    const back = messageFromWire(roundTrip(wire))
    expect(norm(back)).toEqual(norm(msgA))
    expect(back.data).toBeInstanceOf(Uint8Array)
  })

  it('block', () => {
    const wire = blockToWire(certified.block)
    expect(wire[0]).toHaveLength(HEADER_BYTES)
    const back = blockFromWire(roundTrip(wire))
    expect(norm(back)).toEqual(norm(certified.block))
  })

  it('empty block', () => {
    const empty = certifiedBlock({ members: keys, round: 1 }).block
    expect(norm(blockFromWire(roundTrip(blockToWire(empty))))).toEqual(norm(empty))
  })

  it('certificate', () => {
    const back = certificateFromWire(roundTrip(certificateToWire(certified.certificate)))
    expect(norm(back)).toEqual(norm(certified.certificate))
    expect(back.signatures).toHaveLength(3)
  })

  it('labels and data at exactly the limits are accepted', () => {
    const big = signedMessage(client, { label: 'é'.repeat(LIMITS.labelBytes / 2), data: new Uint8Array(LIMITS.dataBytes) })
    expect(norm(messageFromWire(roundTrip(messageToWire(big))))).toEqual(norm(big))
  })
})

describe('blockFromWire rejects malformed blocks with a DecodeError naming the field', () => {
  const good = (): [Uint8Array, unknown[][]] => {
    const [header, messages] = blockToWire(certified.block)
    return [header, messages.map((m) => [...m])]
  }
  const withMessage = (patch: (m: unknown[]) => void): unknown => {
    const w = good()
    patch(w[1][1] as unknown[])
    return roundTrip(w)
  }

  it.each<[string, () => unknown, RegExp]>([
    ['not an array', () => roundTrip({ header: 1 }), /^block: expected an array/],
    ['one entry', () => roundTrip([good()[0]]), /^block: expected 2 entries, got 1/],
    ['three entries', () => roundTrip([...good(), []]), /^block: expected 2 entries, got 3/],
    ['header is not bytes', () => roundTrip([toHex(good()[0]), []]), /^block\.header: expected bytes/],
    ['header too short', () => roundTrip([good()[0].subarray(1), []]), /^block\.header: a header is 144 bytes/],
    ['header with a bad tag', () => { const w = good(); const h = Uint8Array.from(w[0]); h[5] = 0x58; return roundTrip([h, w[1]]) }, /^block\.header: not a block header \(wrong tag\)/],
    ['header with an unsupported version', () => roundTrip([encodeHeader({ ...certified.block.header, version: 2 }), []]), /^block\.header: unsupported block version 2/],
    ['messages not an array', () => roundTrip([good()[0], 'x']), /^block\.messages: expected an array/],
    ['too many messages', () => roundTrip([good()[0], Array.from({ length: LIMITS.messagesPerBlock + 1 }, () => 0)]), new RegExp(`^block\\.messages: more than ${LIMITS.messagesPerBlock} entries`)],
    ['a message with 4 entries', () => withMessage((m) => { m.pop() }), /^block\.messages\[1\]: expected 5 entries, got 4/],
    ['a message with 6 entries', () => withMessage((m) => { m.push(0) }), /^block\.messages\[1\]: expected 5 entries, got 6/],
    ['a negative timestamp', () => withMessage((m) => { m[0] = -1 }), /^block\.messages\[1\]\.timestamp: /],
    ['a fractional timestamp', () => withMessage((m) => { m[0] = 1.5 }), /^block\.messages\[1\]\.timestamp: /],
    ['a string timestamp', () => withMessage((m) => { m[0] = '1' }), /^block\.messages\[1\]\.timestamp: /],
    ['a label that is bytes', () => withMessage((m) => { m[1] = new Uint8Array(1) }), /^block\.messages\[1\]\.label: expected a string/],
    ['an oversize label', () => withMessage((m) => { m[1] = 'x'.repeat(LIMITS.labelBytes + 1) }), new RegExp(`^block\\.messages\\[1\\]\\.label: more than ${LIMITS.labelBytes} bytes`)],
    ['an oversize label in UTF-8 bytes', () => withMessage((m) => { m[1] = 'é'.repeat(LIMITS.labelBytes / 2 + 1) }), /^block\.messages\[1\]\.label: more than/],
    ['oversize data', () => withMessage((m) => { m[2] = new Uint8Array(LIMITS.dataBytes + 1) }), new RegExp(`^block\\.messages\\[1\\]\\.data: more than ${LIMITS.dataBytes} bytes`)],
    ['data that is a string', () => withMessage((m) => { m[2] = 'hello' }), /^block\.messages\[1\]\.data: expected bytes/],
    ['a 31-byte public key', () => withMessage((m) => { m[3] = new Uint8Array(31) }), /^block\.messages\[1\]\.publicKey: expected 32 bytes, got 31/],
    ['a 33-byte public key', () => withMessage((m) => { m[3] = new Uint8Array(33) }), /^block\.messages\[1\]\.publicKey: expected 32 bytes, got 33/],
    ['a 63-byte signature', () => withMessage((m) => { m[4] = new Uint8Array(63) }), /^block\.messages\[1\]\.signature: expected 64 bytes, got 63/],
    ['a 65-byte signature', () => withMessage((m) => { m[4] = new Uint8Array(65) }), /^block\.messages\[1\]\.signature: expected 64 bytes, got 65/]
  ])('%s', (_name, make, message) => {
    const value = make()
    const err = decodeErr(() => blockFromWire(value))
    expect(err.message).toMatch(message)
  })

  it('uses the caller\'s name for the value', () => {
    expect(decodeErr(() => blockFromWire([1], 'proposal.block')).message).toMatch(/^proposal\.block: /)
  })
})

describe('certificateFromWire rejects malformed certificates naming the field', () => {
  const good = (): unknown[] => certificateToWire(certified.certificate) as unknown[]
  it.each<[string, () => unknown, RegExp]>([
    ['3 entries', () => good().slice(0, 3), /^certificate: expected 4 entries, got 3/],
    ['string round', () => { const c = good(); c[0] = 'x'; return c }, /^certificate\.round: /],
    ['short creator', () => { const c = good(); c[1] = new Uint8Array(31); return c }, /^certificate\.creator: expected 32 bytes/],
    ['short block hash', () => { const c = good(); c[2] = new Uint8Array(16); return c }, /^certificate\.blockHash: expected 32 bytes/],
    ['signatures not an array', () => { const c = good(); c[3] = {}; return c }, /^certificate\.signatures: expected an array/],
    ['too many signatures', () => { const c = good(); c[3] = Array.from({ length: LIMITS.maxMembers + 1 }, () => 0); return c }, /^certificate\.signatures: more than 1000 entries/],
    ['a signature pair with 3 entries', () => { const c = good(); (c[3] as unknown[][])[1] = [new Uint8Array(32), new Uint8Array(64), 0]; return c }, /^certificate\.signatures\[1\]: expected 2 entries/],
    ['a short signer key', () => { const c = good(); (c[3] as unknown[][])[2] = [new Uint8Array(31), new Uint8Array(64)]; return c }, /^certificate\.signatures\[2\]\.signer: expected 32 bytes/],
    ['a short signature', () => { const c = good(); (c[3] as unknown[][])[0] = [new Uint8Array(32), new Uint8Array(63)]; return c }, /^certificate\.signatures\[0\]\.signature: expected 64 bytes/]
  ])('%s', (_name, make, message) => {
    expect(decodeErr(() => certificateFromWire(roundTrip(make()))).message).toMatch(message)
  })
})

describe('messageFromWire', () => {
  it('rejects a non-array and names the caller\'s field', () => {
    expect(decodeErr(() => messageFromWire('x', 'gossip')).message).toMatch(/^gossip: expected an array/)
    expect(decodeErr(() => messageFromWire([0, 'l', new Uint8Array(0), new Uint8Array(32), new Uint8Array(1)], 'gossip')).message).toMatch(/^gossip\.signature: /)
  })

  it('keeps a block valid only as a whole: a decoded block re-encodes to the same bytes', () => {
    const bytes = encodeCbor(blockToWire(certified.block))
    const back: Block = blockFromWire(decodeCbor(bytes, LIMITS.blockBytes, 'x'))
    expect(toHex(encodeCbor(blockToWire(back)))).toBe(toHex(bytes))
  })
})
