import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { ByteReader, ByteWriter, compareBytes, concatBytes, equalBytes, fromBase64, fromHex, toBase64, toHex } from '../../../src/codec/bytes.js'

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs)

describe('hex', () => {
  it('round-trips random bytes and matches Buffer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const hex = toHex(bytes)
      expect(hex).toBe(Buffer.from(bytes).toString('hex'))
      expect(hex).toMatch(/^[0-9a-f]*$/)
      expect(fromHex(hex)).toEqual(bytes)
      expect(fromHex(hex.toUpperCase())).toEqual(bytes)
      expect(fromHex(hex, bytes.length)).toEqual(bytes)
    }))
  })

  it('encodes known values', () => {
    expect(toHex(b())).toBe('')
    expect(toHex(b(0, 1, 0x0f, 0x10, 0xab, 0xff))).toBe('00010f10abff')
    expect(fromHex('00010F10ABff')).toEqual(b(0, 1, 0x0f, 0x10, 0xab, 0xff))
    expect(fromHex('')).toEqual(b())
  })

  it.each([
    ['odd length', 'abc'],
    ['single digit', 'a'],
    ['non-hex digit', 'zz'],
    ['g', '0g'],
    ['space', 'ab cd'],
    ['0x prefix', '0xab'],
    ['sign', '+1'],
    ['minus', '-1'],
    ['trailing newline', 'abc\n'],
    ['unicode digit', '\u0661\u0662']
  ])('rejects %s', (_name, text) => {
    expect(fromHex(text)).toBeUndefined()
  })

  it('rejects a wrong expected length', () => {
    expect(fromHex('abcd', 1)).toBeUndefined()
    expect(fromHex('abcd', 3)).toBeUndefined()
    expect(fromHex('', 32)).toBeUndefined()
    expect(fromHex('00'.repeat(31), 32)).toBeUndefined()
    expect(fromHex('00'.repeat(33), 32)).toBeUndefined()
    expect(fromHex('00'.repeat(32), 32)).toEqual(new Uint8Array(32))
    expect(fromHex('', 0)).toEqual(b())
  })

  it('rejects any string with a non-hex character (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), fc.nat(), fc.constantFrom('g', 'G', 'x', ' ', '-', '.', 'é', '\u0000', 'z'),
      (bytes, at, bad) => {
        const hex = toHex(bytes)
        const i = at % hex.length
        const corrupted = hex.slice(0, i) + bad + hex.slice(i + 1)
        expect(fromHex(corrupted)).toBeUndefined()
      }))
  })
})

describe('base64', () => {
  it('encodes and decodes inputs across the piece boundaries, and large ones, exactly as Buffer does', () => {
    for (const size of [0, 1, 2, 3, 6143, 6144, 6145, 24_576, 24_577, 200_001, 6 * 1024 * 1024]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff)
      const text = toBase64(bytes)
      expect(text, `${size} bytes`).toBe(Buffer.from(bytes).toString('base64'))
      expect(Buffer.from(fromBase64(text) as Uint8Array).equals(Buffer.from(bytes)), `${size} bytes back`).toBe(true)
      if (size < 300_000) expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'))
    }
  })

  it('round-trips random bytes and matches Buffer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const text = toBase64(bytes)
      expect(text).toBe(Buffer.from(bytes).toString('base64'))
      expect(fromBase64(text)).toEqual(bytes)
    }))
  })

  it('decodes whatever Buffer encodes, and only canonical strings (property)', () => {
    fc.assert(fc.property(fc.stringMatching(/^[A-Za-z0-9+/]{0,12}={0,2}$/), (text) => {
      const decoded = fromBase64(text)
      if (decoded != null) {
        // accepted ⇒ canonical: re-encoding gives the same text, and Buffer agrees on the bytes
        expect(toBase64(decoded)).toBe(text)
        expect(Buffer.from(decoded)).toEqual(Buffer.from(text, 'base64'))
      } else {
        // rejected ⇒ Buffer's canonical form of the same bytes differs from the input
        expect(Buffer.from(text, 'base64').toString('base64')).not.toBe(text)
      }
    }))
  })

  it('encodes the RFC 4648 test vectors', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy']]
    for (const [plain, encoded] of vectors) {
      const bytes = new TextEncoder().encode(plain)
      expect(toBase64(bytes)).toBe(encoded)
      expect(fromBase64(encoded)).toEqual(bytes)
    }
  })

  it.each([
    ['missing padding byte', 'QQ='],
    ['no padding', 'QQ'],
    ['stray bits in the last char (QR==)', 'QR=='],
    ['stray bits with one pad (QUF=)', 'QUF='],
    ['three padding chars', 'Q==='],
    ['padding in the middle', 'QQ==QQ=='],
    ['url-safe alphabet -', 'ab-_'],
    ['space', 'QU Fh'],
    ['trailing newline', 'QUF\n'],
    ['embedded newline', 'QUF\nQUFB'],
    ['bad char', 'QUF!'],
    ['non-ascii', 'QUFé'],
    ['only padding', '===='],
    ['length 5', 'QUFBQ']
  ])('rejects %s: %j', (_name, text) => {
    expect(fromBase64(text)).toBeUndefined()
  })
})

describe('concatBytes / equalBytes / compareBytes', () => {
  it('concatenates', () => {
    expect(concatBytes()).toEqual(b())
    expect(concatBytes(b(1), b(), b(2, 3))).toEqual(b(1, 2, 3))
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 10 }), { maxLength: 6 }), (parts) => {
      expect(Buffer.from(concatBytes(...parts))).toEqual(Buffer.concat(parts))
    }))
  })

  it('concat copies (later mutation of a part does not change the result)', () => {
    const part = b(1, 2)
    const out = concatBytes(part, b(3))
    part[0] = 9
    expect(out).toEqual(b(1, 2, 3))
  })

  it('equalBytes', () => {
    expect(equalBytes(b(), b())).toBe(true)
    expect(equalBytes(b(1, 2), b(1, 2))).toBe(true)
    expect(equalBytes(b(1, 2), b(1, 3))).toBe(false)
    expect(equalBytes(b(1, 2), b(1, 2, 0))).toBe(false)
    expect(equalBytes(b(1, 2, 0), b(1, 2))).toBe(false)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 16 }), (x, y) => {
      expect(equalBytes(x, y)).toBe(Buffer.from(x).equals(Buffer.from(y)))
    }))
  })

  it('compareBytes is lexicographic like Buffer.compare', () => {
    expect(compareBytes(b(), b())).toBe(0)
    expect(compareBytes(b(1), b(2))).toBeLessThan(0)
    expect(compareBytes(b(2), b(1, 9))).toBeGreaterThan(0)
    expect(compareBytes(b(1), b(1, 0))).toBeLessThan(0)
    expect(compareBytes(b(1, 0), b(1))).toBeGreaterThan(0)
    expect(compareBytes(b(0xff), b(0x00, 0xff))).toBeGreaterThan(0)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (x, y) => {
      const xy = Math.sign(compareBytes(x, y)) + 0
      expect(xy).toBe(Buffer.compare(x, y))
      expect(Math.sign(compareBytes(y, x)) + 0).toBe(-xy + 0)
    }))
  })
})

describe('ByteWriter / ByteReader', () => {
  it('writes big-endian layouts byte by byte', () => {
    const out = new ByteWriter().tag('ab').u8(1).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d).string16('é').bytes32(b(0xee)).bytes(b(0xff)).finish()
    expect(toHex(out)).toBe(
      '02' + '6162' + // tag
      '01' + '0203' + '04050607' + '000008090a0b0c0d' +
      '0002' + 'c3a9' + // string16: length in UTF-8 bytes
      '00000001' + 'ee' + 'ff')
  })

  it('u64 writes the maximum safe integer', () => {
    expect(toHex(new ByteWriter().u64(Number.MAX_SAFE_INTEGER).finish())).toBe('001fffffffffffff')
    expect(toHex(new ByteWriter().u64(0).finish())).toBe('0000000000000000')
  })

  it('round-trips random field values (property)', () => {
    fc.assert(fc.property(
      fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ maxLength: 50 }),
      (tag, u8, u16, u32, u64, bytes) => {
        const out = new ByteWriter().tag(tag).u8(u8).u16(u16).u32(u32).u64(u64).bytes32(bytes).finish()
        const r = new ByteReader(out)
        expect(r.tag()).toBe(tag)
        expect(r.u8()).toBe(u8)
        expect(r.u16()).toBe(u16)
        expect(r.u32()).toBe(u32)
        expect(r.u64()).toBe(u64)
        expect(r.bytes(r.u32())).toEqual(bytes)
        expect(r.remaining).toBe(0)
      }))
  })

  it('writes the same bytes whatever its starting capacity: it grows its one buffer as it goes (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(
        fc.record({ kind: fc.constant('u16' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
        fc.record({ kind: fc.constant('u64' as const), value: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
        fc.record({ kind: fc.constant('string16' as const), value: fc.string({ unit: 'grapheme', maxLength: 30 }) }),
        fc.record({ kind: fc.constant('bytes' as const), value: fc.uint8Array({ maxLength: 600 }) })
      ), { maxLength: 30 }),
      (fields) => {
        // the layout built from its parts independently: big-endian integers, UTF-8 with a u16 length
        const expected: Uint8Array[] = []
        const write = (w: ByteWriter): ByteWriter => {
          for (const f of fields) {
            if (f.kind === 'u16') w.u16(f.value)
            else if (f.kind === 'u64') w.u64(f.value)
            else if (f.kind === 'string16') w.string16(f.value)
            else w.bytes(f.value)
          }
          return w
        }
        for (const f of fields) {
          if (f.kind === 'u16') expected.push(b(f.value >> 8, f.value & 255))
          else if (f.kind === 'u64') expected.push(Uint8Array.from(Buffer.from(f.value.toString(16).padStart(16, '0'), 'hex')))
          else if (f.kind === 'string16') {
            const text = Buffer.from(f.value, 'utf8')
            expected.push(b(text.length >> 8, text.length & 255), Uint8Array.from(text))
          } else expected.push(f.value)
        }
        const tight = write(new ByteWriter(1))
        expect(toHex(tight.finish())).toBe(toHex(concatBytes(...expected)))
        expect(toHex(tight.view())).toBe(toHex(concatBytes(...expected)))
        expect(toHex(write(new ByteWriter()).finish())).toBe(toHex(concatBytes(...expected)))
      }))
  })

  it.each([
    ['u8 256', (w: ByteWriter) => w.u8(256)],
    ['u8 -1', (w: ByteWriter) => w.u8(-1)],
    ['u8 1.5', (w: ByteWriter) => w.u8(1.5)],
    ['u8 NaN', (w: ByteWriter) => w.u8(NaN)],
    ['u16 65536', (w: ByteWriter) => w.u16(65536)],
    ['u16 -1', (w: ByteWriter) => w.u16(-1)],
    ['u32 2^32', (w: ByteWriter) => w.u32(2 ** 32)],
    ['u64 negative', (w: ByteWriter) => w.u64(-1)],
    ['u64 2^53', (w: ByteWriter) => w.u64(2 ** 53)],
    ['u64 > 2^53-1', (w: ByteWriter) => w.u64(Number.MAX_SAFE_INTEGER + 2)],
    ['u64 fraction', (w: ByteWriter) => w.u64(0.5)],
    ['u64 Infinity', (w: ByteWriter) => w.u64(Infinity)],
    ['tag > 255 bytes', (w: ByteWriter) => w.tag('x'.repeat(256))],
    ['string16 > 65535 bytes', (w: ByteWriter) => w.string16('x'.repeat(65536))]
  ])('writer throws RangeError for %s', (_name, write) => {
    expect(() => write(new ByteWriter())).toThrow(RangeError)
  })

  it('writer accepts the boundary values', () => {
    expect(new ByteWriter().u8(255).u16(65535).u32(2 ** 32 - 1).tag('x'.repeat(255)).finish().length).toBe(1 + 2 + 4 + 256)
  })

  it('reader throws RangeError past the end', () => {
    expect(() => new ByteReader(b()).u8()).toThrow(RangeError)
    expect(() => new ByteReader(b(1)).u16()).toThrow(RangeError)
    expect(() => new ByteReader(b(1, 2, 3)).u32()).toThrow(RangeError)
    expect(() => new ByteReader(new Uint8Array(7)).u64()).toThrow(RangeError)
    expect(() => new ByteReader(b(1, 2)).bytes(3)).toThrow(RangeError)
    expect(() => new ByteReader(b(5, 0x61)).tag()).toThrow(RangeError)
    const r = new ByteReader(b(1, 2, 3))
    expect(r.u16()).toBe(0x0102)
    expect(r.remaining).toBe(1)
    expect(() => r.u16()).toThrow(RangeError)
    // a failed read does not consume
    expect(r.remaining).toBe(1)
    expect(r.u8()).toBe(3)
  })

  it('reader refuses u64 values above 2^53-1', () => {
    expect(() => new ByteReader(fromHex('0020000000000000') as Uint8Array).u64()).toThrow(RangeError)
    expect(() => new ByteReader(fromHex('ffffffffffffffff') as Uint8Array).u64()).toThrow(RangeError)
    expect(new ByteReader(fromHex('001fffffffffffff') as Uint8Array).u64()).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('reader works on a subarray view (respects byteOffset)', () => {
    const backing = b(0xaa, 0xbb, 0x01, 0x02, 0x03, 0x04)
    const r = new ByteReader(backing.subarray(2))
    expect(r.u32()).toBe(0x01020304)
    expect(r.remaining).toBe(0)
  })

  it('reader.bytes returns a copy', () => {
    const src = b(1, 2, 3)
    const out = new ByteReader(src).bytes(2)
    src[0] = 9
    expect(out).toEqual(b(1, 2))
  })
})
