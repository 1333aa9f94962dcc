/**
 * Portable byte helpers (Uint8Array only, no Buffer) so the encodings and the verifier also run in
 * a browser.
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * Strings are built in pieces of this many characters and joined once: appending one or two
 * characters at a time makes V8 keep a rope of tiny strings (about 32 bytes each), hundreds of
 * MiB for a few MiB of data.
 */
const PIECE = 8192

export function toHex (bytes: Uint8Array): string {
  if (bytes.length <= 64) {
    let out = ''
    for (const b of bytes) out += HEX[b]
    return out
  }
  const pieces: string[] = []
  for (let i = 0; i < bytes.length; i += PIECE / 2) {
    let piece = ''
    for (const b of bytes.subarray(i, i + PIECE / 2)) piece += HEX[b]
    pieces.push(piece)
  }
  return pieces.join('')
}

/** Strict lower/upper-case hex → bytes; undefined when malformed (odd length, bad digit, wrong size). */
export function fromHex (hex: string, expectedLength?: number): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || (expectedLength != null && hex.length !== 2 * expectedLength)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) {
    const high = hexDigit(hex.charCodeAt(2 * i))
    const low = hexDigit(hex.charCodeAt(2 * i + 1))
    if (high < 0 || low < 0) return undefined
    out[i] = (high << 4) | low
  }
  return out
}

/** char code → hex digit value, −1 for anything else */
const HEX_VALUES = (() => {
  const values = new Int8Array(128).fill(-1)
  for (let i = 0; i < 16; i++) {
    values[i.toString(16).charCodeAt(0)] = i
    values[i.toString(16).toUpperCase().charCodeAt(0)] = i
  }
  return values
})()

function hexDigit (code: number): number {
  return code < 128 ? HEX_VALUES[code] as number : -1
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64_CODES = Array.from(B64, (ch) => ch.charCodeAt(0))
const PAD = '='.charCodeAt(0)
/** char code → 6-bit value, −1 for anything else */
const B64_VALUES = (() => {
  const values = new Int16Array(128).fill(-1)
  B64_CODES.forEach((code, i) => { values[code] = i })
  return values
})()

export function toBase64 (bytes: Uint8Array): string {
  const pieces: string[] = []
  const codes = new Array<number>(PIECE)
  let n = 0
  const flush = (): void => {
    pieces.push(String.fromCharCode.apply(null, n === PIECE ? codes : codes.slice(0, n)))
    n = 0
  }
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] as number
    const b = bytes[i + 1]
    const c = bytes[i + 2]
    codes[n++] = B64_CODES[a >> 2] as number
    codes[n++] = B64_CODES[((a & 3) << 4) | ((b ?? 0) >> 4)] as number
    codes[n++] = b == null ? PAD : B64_CODES[((b & 15) << 2) | ((c ?? 0) >> 6)] as number
    codes[n++] = c == null ? PAD : B64_CODES[c & 63] as number
    if (n === PIECE) flush()
  }
  if (n > 0) flush()
  return pieces.join('')
}

/** Strict standard base64 (with padding) → bytes; undefined when malformed or not canonical. */
export function fromBase64 (text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const out = new Uint8Array((text.length / 4) * 3 - pad)
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length
    let triple = 0
    for (let k = 0; k < 4; k++) {
      const code = text.charCodeAt(i + k)
      // '=' only as the padding of the last quantum
      const value = code === PAD && last && k >= 4 - pad ? 0 : code < 128 ? B64_VALUES[code] as number : -1
      if (value < 0) return undefined
      triple = (triple << 6) | value
    }
    if (o < out.length) out[o++] = (triple >> 16) & 255
    if (o < out.length) out[o++] = (triple >> 8) & 255
    if (o < out.length) out[o++] = triple & 255
    // canonical: the bits the padding stands for are zero
    if (last && ((pad === 2 && (triple & 0xffff) !== 0) || (pad === 1 && (triple & 0xff) !== 0))) return undefined
  }
  return out
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

/** Lexicographic byte order. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
  }
  return a.length - b.length
}

const utf8 = new TextEncoder()

/**
 * Builds the fixed big-endian layouts that are hashed and signed (docs/PROTOCOL.md §2). Integers
 * are unsigned; u64 values must be safe integers (< 2^53). Everything is written into one buffer
 * that doubles when full: a reward table's rows hashed field by field used to cost a typed array
 * and a DataView per integer (megabytes of garbage per epoch).
 */
export class ByteWriter {
  #buffer: Uint8Array
  #view: DataView
  #length = 0

  constructor (capacity = 256) {
    this.#buffer = new Uint8Array(capacity)
    this.#view = new DataView(this.#buffer.buffer)
  }

  /** A domain tag: one length byte, then the ASCII text. */
  tag (text: string): this {
    const at = this.#length
    this.u8(0).#utf8(text)
    const size = this.#length - at - 1
    if (size > 255) throw new RangeError('tag too long')
    this.#buffer[at] = size
    return this
  }

  u8 (value: number): this {
    this.#check(value, 1)
    const at = this.#reserve(1)
    this.#buffer[at] = value
    return this
  }

  u16 (value: number): this {
    this.#check(value, 2)
    const at = this.#reserve(2)
    this.#view.setUint16(at, value)
    return this
  }

  u32 (value: number): this {
    this.#check(value, 4)
    const at = this.#reserve(4)
    this.#view.setUint32(at, value)
    return this
  }

  u64 (value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 out of range: ${value}`)
    const at = this.#reserve(8)
    this.#view.setUint32(at, Math.floor(value / 2 ** 32))
    this.#view.setUint32(at + 4, value >>> 0)
    return this
  }

  bytes (value: Uint8Array): this {
    const at = this.#reserve(value.length)
    this.#buffer.set(value, at)
    return this
  }

  /** u16 length prefix, then the UTF-8 bytes. */
  string16 (value: string): this {
    const at = this.#reserve(2)
    this.#utf8(value)
    const size = this.#length - at - 2
    if (size >= 2 ** 16) throw new RangeError(`u16 out of range: ${size}`)
    this.#view.setUint16(at, size)
    return this
  }

  /** u32 length prefix, then the bytes. */
  bytes32 (value: Uint8Array): this {
    return this.u32(value.length).bytes(value)
  }

  /** The bytes written, in an array of their own. */
  finish (): Uint8Array {
    return this.#buffer.slice(0, this.#length)
  }

  /** The bytes written so far as a view of the writer's buffer (to hash them without another copy; valid until the next write). */
  view (): Uint8Array {
    return this.#buffer.subarray(0, this.#length)
  }

  #check (value: number, size: 1 | 2 | 4): void {
    if (!Number.isInteger(value) || value < 0 || value >= 2 ** (8 * size)) throw new RangeError(`u${8 * size} out of range: ${value}`)
  }

  /** Makes room for `size` more bytes; returns where they start. */
  #reserve (size: number): number {
    const at = this.#length
    if (at + size > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(2 * this.#buffer.length, at + size))
      grown.set(this.#buffer.subarray(0, at))
      this.#buffer = grown
      this.#view = new DataView(grown.buffer)
    }
    this.#length = at + size
    return at
  }

  /** Appends the UTF-8 encoding of `text` (at most 3 bytes per UTF-16 unit). */
  #utf8 (text: string): void {
    const at = this.#reserve(3 * text.length)
    const { written } = utf8.encodeInto(text, this.#buffer.subarray(at))
    this.#length = at + written
  }
}

/** Reads the layouts ByteWriter writes; throws RangeError past the end. */
export class ByteReader {
  readonly #bytes: Uint8Array
  readonly #view: DataView
  #offset = 0

  constructor (bytes: Uint8Array) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining (): number {
    return this.#bytes.length - this.#offset
  }

  #need (n: number): number {
    if (this.#offset + n > this.#bytes.length) throw new RangeError('unexpected end of data')
    const at = this.#offset
    this.#offset += n
    return at
  }

  tag (): string {
    const n = this.u8()
    return new TextDecoder().decode(this.bytes(n))
  }

  u8 (): number {
    return this.#view.getUint8(this.#need(1))
  }

  u16 (): number {
    return this.#view.getUint16(this.#need(2))
  }

  u32 (): number {
    return this.#view.getUint32(this.#need(4))
  }

  u64 (): number {
    const value = this.#view.getBigUint64(this.#need(8))
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('u64 above 2^53')
    return Number(value)
  }

  bytes (n: number): Uint8Array {
    const at = this.#need(n)
    return this.#bytes.slice(at, at + n)
  }
}
