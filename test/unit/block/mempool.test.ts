import { describe, it, expect } from 'vitest'
import { messageId } from '../../../src/block/encoding.js'
import { Mempool, type MempoolOptions } from '../../../src/block/mempool.js'
import type { ClientMessage } from '../../../src/block/types.js'
import { toHex } from '../../../src/codec/bytes.js'
import { key, signedMessage } from './fixtures.js'

const client = key(0x0c)
const OVERHEAD = 104 // timestamp, key and signature, counted per entry on top of the UTF-8 label and data

function msg (i: number, dataBytes = 10, label = `m${i}`): { id: string, message: ClientMessage, bytes: number } {
  const message = signedMessage(client, { label, data: new Uint8Array(dataBytes).fill(i), timestamp: 1000 + i })
  return { id: toHex(messageId(message)), message, bytes: dataBytes + Buffer.byteLength(label) + OVERHEAD }
}

function pool (opts: Partial<MempoolOptions> = {}): Mempool {
  return new Mempool({ maxMessages: 100, maxBytes: 1_000_000, maxAgeMs: 60_000, ...opts })
}

describe('Mempool', () => {
  it('adds messages and accounts for them', () => {
    const p = pool()
    const a = msg(1)
    const b = msg(2, 100)
    expect(p.size).toBe(0)
    expect(p.bytes).toBe(0)
    expect(p.add(a.id, a.message, 0)).toBe('added')
    expect(p.add(b.id, b.message, 0)).toBe('added')
    expect(p.size).toBe(2)
    expect(p.bytes).toBe(a.bytes + b.bytes)
    expect(p.has(a.id)).toBe(true)
    expect(p.has(msg(3).id)).toBe(false)
  })

  it('refuses a duplicate id without changing the pool', () => {
    const p = pool()
    const a = msg(1)
    p.add(a.id, a.message, 0)
    expect(p.add(a.id, a.message, 5)).toBe('duplicate')
    expect(p.size).toBe(1)
    expect(p.bytes).toBe(a.bytes)
    expect(p.peek(10)[0]?.receivedAt).toBe(0)
  })

  it('a delivered message cannot come back (a gossip copy validated before the delivery), within a bounded memory of deliveries', () => {
    const p = pool({ maxMessages: 3 })
    const [a, b, c, d] = [msg(1), msg(2), msg(3), msg(4)]
    p.add(a.id, a.message, 0)
    expect(p.delivered([a.id])).toBe(1)
    expect(p.add(a.id, a.message, 1)).toBe('duplicate')
    expect(p.size).toBe(0)
    // the memory of deliveries holds at most maxMessages ids: the oldest is forgotten first
    p.delivered([b.id, c.id, d.id])
    expect(p.add(a.id, a.message, 2)).toBe('added')
    expect(p.add(d.id, d.message, 2)).toBe('duplicate')
  })

  it('is full by count', () => {
    const p = pool({ maxMessages: 2 })
    const [a, b, c] = [msg(1), msg(2), msg(3)]
    expect(p.add(a.id, a.message, 0)).toBe('added')
    expect(p.add(b.id, b.message, 0)).toBe('added')
    expect(p.add(c.id, c.message, 0)).toBe('full')
    expect(p.size).toBe(2)
    expect(p.has(c.id)).toBe(false)
    // a duplicate is reported as such even when full
    expect(p.add(a.id, a.message, 0)).toBe('duplicate')
    p.remove([a.id])
    expect(p.add(c.id, c.message, 0)).toBe('added')
  })

  it('is full by bytes (a message that fits exactly is accepted)', () => {
    const a = msg(1, 50)
    const b = msg(2, 50)
    const exact = pool({ maxBytes: a.bytes + b.bytes })
    expect(exact.add(a.id, a.message, 0)).toBe('added')
    expect(exact.add(b.id, b.message, 0)).toBe('added')
    expect(exact.bytes).toBe(a.bytes + b.bytes)
    const tight = pool({ maxBytes: a.bytes + b.bytes - 1 })
    expect(tight.add(a.id, a.message, 0)).toBe('added')
    expect(tight.add(b.id, b.message, 0)).toBe('full')
    expect(tight.bytes).toBe(a.bytes)
    // a smaller one still fits
    const small = msg(3, 0, '')
    expect(small.bytes).toBe(OVERHEAD)
    expect(tight.bytes + small.bytes).toBeLessThanOrEqual(a.bytes + b.bytes - 1)
    expect(tight.add(small.id, small.message, 0)).toBe('added')
    // a single message larger than the pool never fits
    const huge = msg(4, 2000)
    expect(pool({ maxBytes: 1000 }).add(huge.id, huge.message, 0)).toBe('full')
  })

  it('peeks in arrival order, up to a limit, with a filter, without removing', () => {
    const p = pool()
    const ms = [msg(5), msg(1), msg(9), msg(3)]
    ms.forEach((m, i) => p.add(m.id, m.message, i))
    expect(p.peek(10).map((e) => e.id)).toEqual(ms.map((m) => m.id))
    expect(p.peek(2).map((e) => e.id)).toEqual([ms[0]?.id, ms[1]?.id])
    expect(p.peek(0)).toEqual([])
    const odd = p.peek(10, (e) => e.receivedAt % 2 === 1)
    expect(odd.map((e) => e.id)).toEqual([ms[1]?.id, ms[3]?.id])
    expect(p.peek(1, (e) => e.receivedAt >= 2).map((e) => e.id)).toEqual([ms[2]?.id])
    expect(p.size).toBe(4)
    const entry = p.peek(1)[0]
    expect(entry).toMatchObject({ id: ms[0]?.id, receivedAt: 0, bytes: ms[0]?.bytes })
    expect(entry?.message).toBe(ms[0]?.message)
  })

  it('removes by id, ignoring unknown and repeated ids, and frees bytes', () => {
    const p = pool()
    const [a, b, c] = [msg(1), msg(2, 40), msg(3)]
    for (const m of [a, b, c]) p.add(m.id, m.message, 0)
    expect(p.remove([b.id, 'unknown', b.id])).toBe(1)
    expect(p.size).toBe(2)
    expect(p.bytes).toBe(a.bytes + c.bytes)
    expect(p.has(b.id)).toBe(false)
    expect(p.peek(10).map((e) => e.id)).toEqual([a.id, c.id])
    expect(p.remove(new Set([a.id, c.id]))).toBe(2)
    expect(p.size).toBe(0)
    expect(p.bytes).toBe(0)
    expect(p.remove([])).toBe(0)
  })

  it('a re-added message goes to the back of the queue', () => {
    const p = pool()
    const [a, b] = [msg(1), msg(2)]
    p.add(a.id, a.message, 0)
    p.add(b.id, b.message, 0)
    p.remove([a.id])
    expect(p.add(a.id, a.message, 1)).toBe('added')
    expect(p.peek(10).map((e) => e.id)).toEqual([b.id, a.id])
  })

  it('prunes entries older than maxAgeMs, using the injected time', () => {
    const p = pool({ maxAgeMs: 1000 })
    const [a, b, c] = [msg(1), msg(2), msg(3)]
    p.add(a.id, a.message, 10_000)
    p.add(b.id, b.message, 10_500)
    p.add(c.id, c.message, 11_000)
    expect(p.prune(10_000)).toBe(0)
    expect(p.prune(11_000)).toBe(0) // exactly maxAgeMs old: kept
    expect(p.prune(11_001)).toBe(1)
    expect(p.has(a.id)).toBe(false)
    expect(p.bytes).toBe(b.bytes + c.bytes)
    expect(p.prune(12_001)).toBe(2)
    expect(p.size).toBe(0)
    expect(p.bytes).toBe(0)
    // a clock that went backwards prunes nothing
    p.add(a.id, a.message, 20_000)
    expect(p.prune(0)).toBe(0)
    expect(p.size).toBe(1)
  })
})
