import type { Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { StreamPool, type PooledStream } from '../../../src/network/stream-pool.js'

/** A stand-in for a libp2p stream: its statuses, and what was done to it. */
function fakeStream (): Stream & { closed: number, aborted: number } {
  const s = {
    status: 'open',
    writeStatus: 'writable',
    readStatus: 'readable',
    remoteWriteStatus: 'writable',
    remoteReadStatus: 'readable',
    closed: 0,
    aborted: 0,
    async close () { s.closed++; s.status = 'closed' },
    abort () { s.aborted++; s.status = 'aborted' }
  }
  return s as unknown as Stream & { closed: number, aborted: number }
}

const pooled = (stream: Stream): PooledStream => ({ stream, lp: {} as unknown as LengthPrefixedStream<Stream> })

describe('StreamPool', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('hands back a stream it was given, per key', () => {
    const pool = new StreamPool({ maxIdlePerKey: 2, idleMs: 1000 })
    const s = fakeStream()
    pool.give('p1 /rbc', pooled(s))
    expect(pool.take('p2 /rbc')).toBeUndefined()
    expect(pool.take('p1 /rbc')?.stream).toBe(s)
    expect(pool.take('p1 /rbc')).toBeUndefined()
    expect(pool.size).toBe(0)
  })

  it('keeps at most maxIdlePerKey idle streams per key and closes the rest', () => {
    const pool = new StreamPool({ maxIdlePerKey: 2, idleMs: 1000 })
    const streams = Array.from({ length: 5 }, fakeStream)
    for (const s of streams) pool.give('k', pooled(s))
    expect(pool.size).toBe(2)
    expect(streams.filter((s) => s.closed === 1)).toHaveLength(3)
  })

  it('closes a stream left idle for idleMs and forgets its key', () => {
    const pool = new StreamPool({ maxIdlePerKey: 2, idleMs: 1000 })
    const s = fakeStream()
    pool.give('k', pooled(s))
    vi.advanceTimersByTime(999)
    expect(s.closed).toBe(0)
    vi.advanceTimersByTime(1)
    expect(s.closed).toBe(1)
    expect(pool.size).toBe(0)
    expect(pool.take('k')).toBeUndefined()
  })

  it('never hands out a stream the other side has closed, nor keeps one', () => {
    const pool = new StreamPool({ maxIdlePerKey: 2, idleMs: 1000 })
    const halfClosed = fakeStream()
    pool.give('k', pooled(halfClosed))
    ;(halfClosed as { remoteWriteStatus: string }).remoteWriteStatus = 'closed'
    expect(pool.take('k')).toBeUndefined()
    expect(halfClosed.aborted).toBe(1)
    const reset = fakeStream()
    ;(reset as { status: string }).status = 'reset'
    pool.give('k', pooled(reset))
    expect(pool.size).toBe(0)
  })

  it('clear() closes every idle stream (the host stops)', () => {
    const pool = new StreamPool({ maxIdlePerKey: 2, idleMs: 1000 })
    const streams = [fakeStream(), fakeStream(), fakeStream()]
    pool.give('a', pooled(streams[0]!))
    pool.give('b', pooled(streams[1]!))
    pool.give('b', pooled(streams[2]!))
    pool.clear()
    expect(pool.size).toBe(0)
    expect(streams.every((s) => s.closed === 1)).toBe(true)
    vi.advanceTimersByTime(5000)
    expect(streams.every((s) => s.closed === 1)).toBe(true)
  })
})
