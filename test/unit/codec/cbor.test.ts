import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { DecodeError, decodeCbor, encodeCbor, shape } from '../../../src/codec/cbor.js'
import { fromHex } from '../../../src/codec/bytes.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'

const hex = (h: string): Uint8Array => fromHex(h) as Uint8Array

function decodeError (fn: () => unknown): DecodeError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError)
    expect(err).toBeInstanceOf(EphemeraError)
    expect((err as DecodeError).code).toBe(ErrorCode.DECODE)
    expect((err as DecodeError).code).toBe('ERR_DECODE')
    return err as DecodeError
  }
  throw new Error('expected a DecodeError')
}

describe('encodeCbor / decodeCbor', () => {
  it('round-trips the values the wire forms use', () => {
    const value = [1, 'label', new Uint8Array([1, 2, 3]), [[new Uint8Array(32), new Uint8Array(64)]], { a: true, b: false, c: null }, Number.MAX_SAFE_INTEGER]
    expect(decodeCbor(encodeCbor(value), 1000, 'x')).toEqual(value)
  })

  it('round-trips random nested arrays of ints, strings and bytes (property)', () => {
    const leaf = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.string({ maxLength: 10 }), fc.uint8Array({ maxLength: 10 }), fc.boolean())
    const tree = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 4 })) })).node
    fc.assert(fc.property(tree, (value) => {
      const bytes = encodeCbor(value)
      expect(decodeCbor(bytes, bytes.length, 'x')).toEqual(value)
    }))
  })

  it('encodes deterministically (small ints in one byte)', () => {
    expect(encodeCbor(1)).toEqual(hex('01'))
    expect(encodeCbor([1, 2])).toEqual(hex('820102'))
    expect(encodeCbor(new Uint8Array([0xaa]))).toEqual(hex('41aa'))
  })

  it('enforces maxBytes before decoding', () => {
    const bytes = encodeCbor(new Uint8Array(100))
    expect(decodeCbor(bytes, bytes.length, 'frame')).toEqual(new Uint8Array(100))
    const err = decodeError(() => decodeCbor(bytes, bytes.length - 1, 'frame'))
    expect(err.message).toContain('frame')
    expect(err.message).toContain(String(bytes.length - 1))
    // even garbage is refused by size, not by content
    expect(decodeError(() => decodeCbor(new Uint8Array(11).fill(0xff), 10, 'big')).message).toMatch(/big: 11 bytes exceeds the limit of 10/)
  })

  it.each([
    ['a lone break byte', 'ff'],
    ['truncated array', '8201'],
    ['truncated byte string', '4401'],
    ['empty input', ''],
    ['trailing bytes', '0102'],
    ['indefinite-length array', '9f01ff'],
    ['indefinite-length map', 'bf616101ff'],
    ['indefinite-length byte string', '5f41014102ff'],
    ['indefinite-length text string', '7f6161ff'],
    ['undefined', 'f7'],
    ['undefined inside an array', '8201f7'],
    ['duplicate map keys', 'a2616101616102'],
    ['non-minimal integer', '1801'],
    ['unsupported tag', 'c11a00000001'],
    ['reserved additional info', '1c']
  ])('rejects %s with a DecodeError', (_name, h) => {
    const err = decodeError(() => decodeCbor(hex(h), 1000, 'rbc frame'))
    expect(err.message).toMatch(/^rbc frame: /)
    expect(err.name).toBe('DecodeError')
  })

  it('never throws anything but DecodeError on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeCbor(bytes, 64, 'random')
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError)
      }
    }))
  })
})

describe('shape helpers', () => {
  it('return valid values unchanged', () => {
    const arr = [1, 2]
    expect(shape.array(arr, 'a', 2)).toBe(arr)
    expect(shape.array([], 'a')).toEqual([])
    expect(shape.uint(0, 'n')).toBe(0)
    expect(shape.uint(Number.MAX_SAFE_INTEGER, 'n')).toBe(Number.MAX_SAFE_INTEGER)
    expect(shape.uint(5, 'n', 5)).toBe(5)
    const bytes = new Uint8Array(32)
    expect(shape.bytes(bytes, 'b', 32)).toBe(bytes)
    expect(shape.bytes(new Uint8Array(3), 'b', undefined, 3)).toHaveLength(3)
    expect(shape.string('é', 's', 2)).toBe('é')
    expect(shape.boolean(false, 'flag')).toBe(false)
  })

  it.each([
    ['array: not an array', () => shape.array('x', 'frame.items'), 'frame.items: expected an array'],
    ['array: an object', () => shape.array({ length: 2 }, 'frame.items'), 'frame.items: expected an array'],
    ['array: wrong length', () => shape.array([1], 'frame.items', 2), 'frame.items: expected 2 entries, got 1'],
    ['array: too long', () => shape.array([1, 2, 3], 'frame.items', undefined, 2), 'frame.items: more than 2 entries'],
    ['uint: string', () => shape.uint('1', 'msg.timestamp'), 'msg.timestamp: expected an unsigned integer'],
    ['uint: negative', () => shape.uint(-1, 'msg.timestamp'), 'msg.timestamp: expected an unsigned integer'],
    ['uint: fraction', () => shape.uint(1.5, 'msg.timestamp'), 'msg.timestamp: expected an unsigned integer'],
    ['uint: above max', () => shape.uint(6, 'msg.count', 5), 'msg.count: expected an unsigned integer ≤ 5'],
    ['uint: above 2^53-1', () => shape.uint(2 ** 53, 'msg.timestamp'), 'msg.timestamp'],
    ['uint: bigint', () => shape.uint(1n, 'msg.timestamp'), 'msg.timestamp'],
    ['uint: NaN', () => shape.uint(NaN, 'msg.timestamp'), 'msg.timestamp'],
    ['bytes: string', () => shape.bytes('00', 'msg.publicKey', 32), 'msg.publicKey: expected bytes'],
    ['bytes: number array', () => shape.bytes([0, 1], 'msg.publicKey'), 'msg.publicKey: expected bytes'],
    ['bytes: wrong length', () => shape.bytes(new Uint8Array(31), 'msg.publicKey', 32), 'msg.publicKey: expected 32 bytes, got 31'],
    ['bytes: too long', () => shape.bytes(new Uint8Array(4), 'msg.data', undefined, 3), 'msg.data: more than 3 bytes'],
    ['string: number', () => shape.string(1, 'msg.label', 10), 'msg.label: expected a string'],
    ['string: too many UTF-8 bytes', () => shape.string('éé', 'msg.label', 3), 'msg.label: more than 3 bytes'],
    ['boolean: number', () => shape.boolean(1, 'x.flag'), 'x.flag: expected a boolean']
  ])('%s → DecodeError naming the field', (_name, fn, message) => {
    const err = decodeError(fn)
    expect(err.message).toContain(message)
  })
})
