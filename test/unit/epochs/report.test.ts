import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, it, expect } from 'vitest'
import { messageId, messageSigningBytes } from '../../../src/block/encoding.js'
import { LIMITS, type ClientMessage } from '../../../src/block/types.js'
import { ByteWriter, fromHex, toHex } from '../../../src/codec/bytes.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'
import {
  checkReportMessage, decodeReport, encodeReport, MAX_MIXNODES, MAX_VALUE, MISSING, mixnodeSetId, parametersId, REPORT_LABEL, REPORT_TAG, REPORT_TAG_V1, reportMessage,
  type Report, type ReportContext, type ReportParameters
} from '../../../src/epochs/report.js'
import { key, members } from '../block/fixtures.js'

const keys = members(4)
const outsider = key(0x77)
const PARAMS: ReportParameters = { mixnodes: 5, aggregation: 'median', trimPermille: 200, minValues: 2, rewardPool: '1000000', rewardsThreshold: 3 }
const paramsId = parametersId(PARAMS)

function report (sender: NodeKey, patch: Partial<Report> = {}): Report {
  return { version: 2, epoch: 7, sender: sender.publicKey, commitment: paramsId, values: Uint16Array.from([0, 10_000, MISSING, 4321, 1]), ...patch }
}

function ctx (patch: Partial<ReportContext> = {}): ReportContext {
  return { epoch: 7, committee: new Set(keys.map((k) => toHex(k.publicKey))), parameters: PARAMS, verify: verifySignature, ...patch }
}

/** A message signed by `signer` over arbitrary data and label. */
function signed (signer: NodeKey, data: Uint8Array, label = REPORT_LABEL, timestamp = 1_700_000_000_000): ClientMessage {
  const body = { timestamp, label, data }
  return { ...body, publicKey: signer.publicKey, signature: signer.sign(messageSigningBytes(body)) }
}

function rejection (m: ClientMessage, c: ReportContext = ctx()): string {
  const result = checkReportMessage(m, c)
  if (result.ok) throw new Error('expected the report to be refused')
  return result.reason
}

const hexOf = (text: string): string => Buffer.from(text, 'ascii').toString('hex')

describe('report encoding', () => {
  it('has the exact byte layout of docs (tag, u64 epoch, sender, parameters id, u32 count, u16 BE values)', () => {
    const bytes = encodeReport({
      version: 2,
      epoch: 0x01_0203_0405,
      sender: new Uint8Array(32).fill(0xaa),
      commitment: new Uint8Array(32).fill(0xbb),
      values: Uint16Array.from([0, 1, 10_000, MISSING])
    })
    expect(REPORT_TAG).toBe('ephemera/report/v2')
    const expected = '12' + hexOf('ephemera/report/v2') +
      '0000000102030405' +
      'aa'.repeat(32) +
      'bb'.repeat(32) +
      '00000004' +
      '0000' + '0001' + '2710' + 'ffff'
    expect(toHex(bytes)).toBe(expected)
    expect(bytes.length).toBe(1 + 18 + 8 + 32 + 32 + 4 + 4 * 2)
  })

  it('round-trips any epoch and values in 0..10000 or MISSING (property)', () => {
    const value = fc.oneof(fc.constant(MISSING), fc.integer({ min: 0, max: MAX_VALUE }))
    fc.assert(fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.array(value, { maxLength: 300 }),
      fc.constantFrom<1 | 2>(1, 2),
      (epoch, sender, set, values, version) => {
        const r: Report = { version, epoch, sender, commitment: set, values: Uint16Array.from(values) }
        const bytes = encodeReport(r)
        expect(bytes.length).toBe(95 + 2 * values.length)
        const back = decodeReport(bytes)
        expect(back.epoch).toBe(epoch)
        expect(toHex(back.sender)).toBe(toHex(sender))
        expect(toHex(back.commitment)).toBe(toHex(set))
        expect(back.version).toBe(version)
        expect(Array.from(back.values)).toEqual(values)
        expect(back.values).toBeInstanceOf(Uint16Array)
        expect(toHex(encodeReport(back))).toBe(toHex(bytes))
      }
    ), { numRuns: 200 })
  })

  it('decodes from a view into a larger buffer', () => {
    const bytes = encodeReport(report(keys[0] as NodeKey))
    const big = new Uint8Array(bytes.length + 10)
    big.set(bytes, 5)
    expect(Array.from(decodeReport(big.subarray(5, 5 + bytes.length)).values)).toEqual([0, 10_000, MISSING, 4321, 1])
  })

  it('refuses a wrong tag', () => {
    const other = new ByteWriter().tag('ephemera/report/v3').u64(1).bytes(new Uint8Array(64)).u32(0).finish()
    expect(() => decodeReport(other)).toThrow(/wrong tag/)
    const bytes = encodeReport(report(keys[0] as NodeKey))
    bytes[1] = 0x45 // 'E'
    expect(() => decodeReport(bytes)).toThrow(RangeError)
    expect(() => decodeReport(bytes)).toThrow(/wrong tag/)
  })

  it('refuses truncated data at every length', () => {
    const bytes = encodeReport(report(keys[0] as NodeKey))
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeReport(bytes.subarray(0, n)), `length ${n}`).toThrow(RangeError)
    }
    expect(() => decodeReport(bytes.subarray(0, 40))).toThrow(/unexpected end of data/)
    expect(() => decodeReport(bytes.subarray(0, bytes.length - 1))).toThrow(/says 5 values but carries 9 bytes/)
  })

  it('refuses trailing bytes and a count that disagrees with the length', () => {
    const bytes = encodeReport(report(keys[0] as NodeKey))
    const longer = new Uint8Array(bytes.length + 1)
    longer.set(bytes)
    expect(() => decodeReport(longer)).toThrow(/says 5 values but carries 11 bytes/)
    const countAt = 1 + 18 + 8 + 32 + 32
    const lying = Uint8Array.from(bytes)
    new DataView(lying.buffer).setUint32(countAt, 4)
    expect(() => decodeReport(lying)).toThrow(/says 4 values but carries 10 bytes/)
    new DataView(lying.buffer).setUint32(countAt, 6)
    expect(() => decodeReport(lying)).toThrow(/says 6 values but carries 10 bytes/)
    // a huge count is refused before anything is allocated for it
    new DataView(lying.buffer).setUint32(countAt, 0xffffffff)
    expect(() => decodeReport(lying)).toThrow(RangeError)
  })

  it.each([10_001, 0xfffe, 0x8000, 20_000])('refuses value %d (above 10000 and not MISSING), naming its index', (v) => {
    const bytes = encodeReport(report(keys[0] as NodeKey, { values: Uint16Array.from([5, 6, v]) }))
    expect(() => decodeReport(bytes)).toThrow(new RegExp(`value 2 is ${v}, above 10000`))
  })

  it('accepts exactly MAX_MIXNODES values and refuses more; a full report fits one message', () => {
    const full = encodeReport(report(keys[0] as NodeKey, { values: new Uint16Array(MAX_MIXNODES).fill(MAX_VALUE) }))
    expect(decodeReport(full).values.length).toBe(MAX_MIXNODES)
    expect(full.length).toBeLessThanOrEqual(LIMITS.dataBytes)
    const over = encodeReport(report(keys[0] as NodeKey, { values: new Uint16Array(MAX_MIXNODES + 1) }))
    expect(() => decodeReport(over)).toThrow(`report has ${MAX_MIXNODES + 1} values, more than ${MAX_MIXNODES}`)
  })
})

describe('mixnodeSetId', () => {
  it('is SHA-256(tag "ephemera/mixnodes/v1" ‖ u32 count), deterministic', () => {
    for (const count of [0, 1, 20, 10_000, MAX_MIXNODES]) {
      const u32 = Buffer.alloc(4)
      u32.writeUInt32BE(count)
      const tag = Buffer.from('ephemera/mixnodes/v1', 'ascii')
      const expected = createHash('sha256').update(Buffer.concat([Buffer.from([tag.length]), tag, u32])).digest('hex')
      expect(toHex(mixnodeSetId(count))).toBe(expected)
      expect(toHex(mixnodeSetId(count))).toBe(toHex(mixnodeSetId(count)))
    }
  })

  it('differs for every count', () => {
    const ids = new Set<string>()
    for (let count = 0; count <= 2000; count++) ids.add(toHex(mixnodeSetId(count)))
    expect(ids.size).toBe(2001)
  })
})

describe('reportMessage', () => {
  it('is a message labelled REPORT_LABEL carrying the encoded report, signed by the sender', () => {
    const k = keys[1] as NodeKey
    const r = report(k)
    const m = reportMessage(r, (b) => k.sign(b), 1_700_000_123_456)
    expect(m.label).toBe(REPORT_LABEL)
    expect(m.timestamp).toBe(1_700_000_123_456)
    expect(toHex(m.publicKey)).toBe(toHex(k.publicKey))
    expect(toHex(m.data)).toBe(toHex(encodeReport(r)))
    expect(verifySignature(m.publicKey, messageSigningBytes(m), m.signature)).toBe(true)
    expect(verifyPortable(m.publicKey, messageSigningBytes(m), m.signature)).toBe(true)
    const checked = checkReportMessage(m, ctx())
    expect(checked).toEqual({ ok: true, report: decodeReport(m.data), id: toHex(messageId(m)) })
  })

  it('uses report.sender as publicKey, whoever signs', () => {
    const m = reportMessage(report(keys[0] as NodeKey), (b) => (keys[1] as NodeKey).sign(b), 1)
    expect(toHex(m.publicKey)).toBe(toHex((keys[0] as NodeKey).publicKey))
    expect(verifySignature(m.publicKey, messageSigningBytes(m), m.signature)).toBe(false)
  })
})

describe('checkReportMessage', () => {
  const k = keys[2] as NodeKey
  const valid = reportMessage(report(k), (b) => k.sign(b), 1_700_000_000_000)

  it('accepts a valid report of a member for the epoch and mixnode set', () => {
    const checked = checkReportMessage(valid, ctx())
    expect(checked.ok).toBe(true)
    if (checked.ok) {
      expect(checked.report.epoch).toBe(7)
      expect(checked.id).toBe(toHex(messageId(valid)))
    }
  })

  it('refuses a wrong label', () => {
    expect(rejection(signed(k, encodeReport(report(k)), 'rewards/report/v2'))).toMatch(/label is "rewards\/report\/v2", not rewards\/report\/v1/)
  })

  it('refuses a bad signature', () => {
    const sig = Uint8Array.from(valid.signature)
    sig[10] = (sig[10] as number) ^ 0x01
    expect(rejection({ ...valid, signature: sig })).toMatch(/signature does not verify/)
    // data changed after signing
    const data = Uint8Array.from(valid.data)
    data[data.length - 1] = (data[data.length - 1] as number) ^ 0x01
    expect(rejection({ ...valid, data })).toMatch(/signature does not verify/)
  })

  it('refuses a report whose sender is not the key that signed it', () => {
    const other = keys[3] as NodeKey
    // signed (validly) by k, but the report inside names another member as its sender
    const m = signed(k, encodeReport(report(other)))
    expect(toHex(m.publicKey)).toBe(toHex(k.publicKey))
    expect(rejection(m)).toMatch(/report sender is not the key that signed it/)
  })

  it('refuses a sender outside the committee', () => {
    const m = reportMessage(report(outsider), (b) => outsider.sign(b), 1)
    expect(rejection(m)).toMatch(/report sender is not in the committee/)
  })

  it('refuses a report for another epoch', () => {
    const m = reportMessage(report(k, { epoch: 8 }), (b) => k.sign(b), 1)
    expect(rejection(m)).toBe('report is for epoch 8, expected 7')
    expect(checkReportMessage(m, ctx({ epoch: 8 })).ok).toBe(true)
  })

  it('refuses a report that commits to other parameters: every parameter is in its parametersId', () => {
    for (const change of [{ mixnodes: 6 }, { aggregation: 'mean' }, { trimPermille: 100 }, { minValues: 3 }, { rewardPool: '1000001' }, { rewardsThreshold: 4 }]) {
      const m = reportMessage(report(k, { commitment: parametersId({ ...PARAMS, ...change }) }), (b) => k.sign(b), 1)
      expect(rejection(m), JSON.stringify(change)).toBe('report is for other parameters (its parametersId differs)')
    }
    const zero = reportMessage(report(k, { commitment: fromHex('00'.repeat(32)) as Uint8Array }), (b) => k.sign(b), 1)
    expect(rejection(zero)).toMatch(/other parameters/)
  })

  it('accepts a version 1 report (mixnode set id, no parameters) only when verifying old records', () => {
    const v1 = reportMessage(report(k, { version: 1, commitment: mixnodeSetId(5) }), (b) => k.sign(b), 1)
    expect(decodeReport(v1.data).version).toBe(1)
    expect(toHex(v1.data.subarray(1, 19))).toBe(hexOf(REPORT_TAG_V1))
    expect(rejection(v1)).toMatch(/version 1 report/)
    expect(checkReportMessage(v1, ctx({ acceptV1: true })).ok).toBe(true)
    const otherSet = reportMessage(report(k, { version: 1, commitment: mixnodeSetId(6) }), (b) => k.sign(b), 1)
    expect(rejection(otherSet, ctx({ acceptV1: true }))).toMatch(/another mixnode set/)
  })

  it('parametersId is SHA-256 of the documented layout, and the example in docs/PROTOCOL.md §7.1 holds', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8')
    const example = /give parameters_id\s+`([0-9a-f]{64})`/.exec(doc)?.[1]
    expect(example).toBe(toHex(parametersId({ mixnodes: 100, aggregation: 'median', trimPermille: 200, minValues: 2, rewardPool: '1000000', rewardsThreshold: 3 })))
    const w = new ByteWriter().tag('ephemera/parameters/v1').u32(5).string16('median').u16(200).u16(2).string16('1000000').u16(3).finish()
    expect(toHex(parametersId(PARAMS))).toBe(createHash('sha256').update(w).digest('hex'))
  })

  it('refuses a report whose number of values is not the number of mixnodes', () => {
    const short = reportMessage(report(k, { values: Uint16Array.from([1, 2, 3]) }), (b) => k.sign(b), 1)
    expect(rejection(short)).toBe('report has 3 values for 5 mixnodes')
    const long = reportMessage(report(k, { values: new Uint16Array(6) }), (b) => k.sign(b), 1)
    expect(rejection(long)).toBe('report has 6 values for 5 mixnodes')
  })

  it.each([
    ['empty data', new Uint8Array(0)],
    ['a truncated report', encodeReport(report(keys[2] as NodeKey)).subarray(0, 60)],
    ['an out-of-range value', encodeReport(report(keys[2] as NodeKey, { values: Uint16Array.from([10_001]) }))],
    ['text', new TextEncoder().encode('not a report')]
  ])('refuses malformed data (%s)', (_name, data) => {
    expect(rejection(signed(k, data))).toMatch(/^malformed report: /)
  })

  it('refuses a structurally invalid message (bad public key length) before decoding', () => {
    expect(rejection({ ...valid, publicKey: valid.publicKey.subarray(0, 31) })).toMatch(/publicKey must be 32 bytes/)
  })
})
