import { afterEach, describe, expect, it, vi } from 'vitest'
import { HeapWarmth, v8NewSpace, withHeapWarmth } from '../../../src/util/heap-warmth.js'

afterEach(() => { vi.useRealTimers() })

describe('HeapWarmth', () => {
  it('allocates bytesPerSecond × tickMs / 1000 per tick in arrays of at most 64 KiB, and holds only the last array', () => {
    // a young generation the rest of the process leaves alone
    const warmth = new HeapWarmth({ bytesPerSecond: 2 * 1024 * 1024, tickMs: 125, newSpace: () => ({ used: 100_000, available: 900_000 }) })
    expect(warmth.tick()).toBeGreaterThanOrEqual(262_144)
    expect(warmth.tick()).toBeLessThan(262_144 + 8)
    // 262,144 bytes in arrays of 8,000 slots of 8 bytes: 5 arrays (4 full, one of the rest), of
    // which only the last is held: the others are garbage at once, never promoted by a collection
    expect(warmth.heldArrays).toBe(1)
  })

  it('tops up what the rest of the process allocated since the last tick, and adds nothing to a busy one', () => {
    let space = { used: 200_000, available: 800_000 }
    const warmth = new HeapWarmth({ bytesPerSecond: 800_000, tickMs: 125, newSpace: () => space })
    // the first tick knows nothing of before: the whole share (100,000 bytes)
    expect(warmth.tick()).toBe(100_000)
    // 30,000 bytes allocated elsewhere since: the other 70,000
    space = { used: 230_000, available: 770_000 }
    expect(warmth.tick()).toBe(70_000)
    // 150,000 allocated elsewhere: nothing to add, and no array held
    space = { used: 380_000, available: 620_000 }
    expect(warmth.tick()).toBe(0)
    expect(warmth.heldArrays).toBe(0)
    // a collection emptied the space meanwhile: the 620,000 left then were allocated, and 20,000 since
    space = { used: 20_000, available: 980_000 }
    expect(warmth.tick()).toBe(0)
    // 30,000 more since: 70,000 to add
    space = { used: 50_000, available: 950_000 }
    expect(warmth.tick()).toBe(70_000)
  })

  it('reads V8\'s new space by default, and its first tick allocates the whole share', () => {
    const space = v8NewSpace()
    expect(space.used).toBeGreaterThan(0)
    expect(space.available).toBeGreaterThanOrEqual(0)
    const warmth = new HeapWarmth({ bytesPerSecond: 1_600_000, tickMs: 125 })
    expect(warmth.tick()).toBeGreaterThanOrEqual(200_000)
    expect(warmth.heldArrays).toBe(1)
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
