import { afterEach, describe, expect, it, vi } from 'vitest'
import { HeapWarmth, withHeapWarmth } from '../../../src/util/heap-warmth.js'

afterEach(() => { vi.useRealTimers() })

describe('HeapWarmth', () => {
  it('allocates bytesPerSecond × tickMs / 1000 per tick in arrays of at most 64 KiB, and holds only the last tick', () => {
    const warmth = new HeapWarmth({ bytesPerSecond: 2 * 1024 * 1024, tickMs: 125 })
    expect(warmth.tick()).toBeGreaterThanOrEqual(262_144)
    expect(warmth.tick()).toBeLessThan(262_144 + 8)
    // 262,144 bytes in arrays of 8,000 slots of 8 bytes: 5 arrays (4 full, one of the rest)
    expect(warmth.heldArrays).toBe(5)
  })

  it('ticks on its interval once started, stops cleanly, and does nothing when off', () => {
    vi.useFakeTimers()
    const warmth = new HeapWarmth({ bytesPerSecond: 64_000, tickMs: 100 })
    const tick = vi.spyOn(warmth, 'tick')
    warmth.start()
    warmth.start()
    expect(warmth.running).toBe(true)
    vi.advanceTimersByTime(1000)
    expect(tick).toHaveBeenCalledTimes(10)
    warmth.stop()
    expect(warmth.running).toBe(false)
    expect(warmth.heldArrays).toBe(0)
    vi.advanceTimersByTime(1000)
    expect(tick).toHaveBeenCalledTimes(10)

    const off = new HeapWarmth({ bytesPerSecond: 0 })
    off.start()
    expect(off.running).toBe(false)
    expect(off.tick()).toBe(0)
  })

  it('refuses a negative or fractional rate and a non-positive tick', () => {
    expect(() => new HeapWarmth({ bytesPerSecond: -1 })).toThrow(RangeError)
    expect(() => new HeapWarmth({ bytesPerSecond: 1.5 })).toThrow(RangeError)
    expect(() => new HeapWarmth({ bytesPerSecond: 1, tickMs: 0 })).toThrow(RangeError)
  })
})

describe('withHeapWarmth', () => {
  it('runs the work with the ticks running and stops them after, also when the work throws', async () => {
    vi.useFakeTimers()
    const spy = vi.spyOn(HeapWarmth.prototype, 'tick')
    await withHeapWarmth(64_000, async () => { vi.advanceTimersByTime(500) })
    expect(spy).toHaveBeenCalledTimes(4)
    await expect(withHeapWarmth(64_000, async () => { throw new Error('boom') })).rejects.toThrow('boom')
    vi.advanceTimersByTime(1000)
    expect(spy).toHaveBeenCalledTimes(4)
    spy.mockRestore()
  })
})
