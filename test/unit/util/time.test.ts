import { describe, it, expect } from 'vitest'
import { backoffDelay, sleep, withTimeout } from '../../../src/util/time.js'
import { AbortError, ErrorCode, TimeoutError } from '../../../src/util/errors.js'

describe('backoffDelay', () => {
  const initial = 250
  const max = 5_000

  it('stays within [ceiling/2, ceiling] for any random value', () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(max, initial * 2 ** attempt)
      for (const r of [0, 0.1, 0.5, 0.9, 0.999999, 1]) {
        const delay = backoffDelay(attempt, initial, max, () => r)
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2))
        expect(delay).toBeLessThanOrEqual(ceiling)
      }
    }
  })

  it('doubles per attempt and then caps at max (random = 1 gives the ceiling)', () => {
    const top = (attempt: number): number => backoffDelay(attempt, initial, max, () => 1)
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(top)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000])
  })

  it('random = 0 gives half the ceiling, never 0', () => {
    const bottom = (attempt: number): number => backoffDelay(attempt, initial, max, () => 0)
    expect([0, 1, 2, 3, 4, 5, 10].map(bottom)).toEqual([125, 250, 500, 1000, 2000, 2500, 2500])
  })

  it('treats a negative attempt as the first', () => {
    expect(backoffDelay(-3, initial, max, () => 1)).toBe(250)
  })

  it('grows monotonically with the attempt for a fixed random value', () => {
    let previous = 0
    for (let attempt = 0; attempt < 12; attempt++) {
      const delay = backoffDelay(attempt, 10, 600_000, () => 0.5)
      expect(delay).toBeGreaterThan(previous)
      previous = delay
    }
  })

  it('uses Math.random by default and stays in range', () => {
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelay(3, initial, max)
      expect(delay).toBeGreaterThanOrEqual(1000)
      expect(delay).toBeLessThanOrEqual(2000)
    }
  })
})

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const start = performance.now()
    await sleep(20)
    expect(performance.now() - start).toBeGreaterThanOrEqual(15)
  })

  it('rejects at once with AbortError if the signal is already aborted', async () => {
    const controller = new AbortController()
    controller.abort()
    const start = performance.now()
    await expect(sleep(60_000, controller.signal)).rejects.toBeInstanceOf(AbortError)
    expect(performance.now() - start).toBeLessThan(1_000)
  })

  it('rejects with AbortError when aborted while sleeping', async () => {
    const controller = new AbortController()
    const start = performance.now()
    const pending = sleep(60_000, controller.signal)
    setTimeout(() => { controller.abort() }, 10)
    const err = await pending.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(AbortError)
    expect((err as AbortError).code).toBe(ErrorCode.ABORTED)
    expect(performance.now() - start).toBeLessThan(5_000)
  })
})

describe('withTimeout', () => {
  it('returns the result when fn finishes in time', async () => {
    await expect(withTimeout(async () => 42, 1_000, 'answer')).resolves.toBe(42)
  })

  it('passes fn errors through', async () => {
    await expect(withTimeout(async () => { throw new Error('boom') }, 1_000, 'x')).rejects.toThrow('boom')
  })

  it('rejects with TimeoutError naming the operation when fn ignores its signal', async () => {
    const err = await withTimeout(async () => await new Promise<never>(() => {}), 20, 'stopping libp2p').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect((err as TimeoutError).code).toBe(ErrorCode.TIMEOUT)
    expect((err as TimeoutError).message).toBe('stopping libp2p did not finish within 20 ms')
  })

  it('aborts the signal given to fn at the deadline', async () => {
    let seen: AbortSignal | undefined
    await withTimeout(async (signal) => { seen = signal; await new Promise<never>(() => {}) }, 20, 'x').catch(() => {})
    const signal = seen as AbortSignal
    // the deadline signal and the TimeoutError timer are due at the same time; either may run first
    if (!signal.aborted) await new Promise((resolve) => { signal.addEventListener('abort', resolve, { once: true }) })
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBeDefined()
  })

  it('rejects with TimeoutError when fn honours its signal', async () => {
    // documented: "a deadline turns into TimeoutError(what)"
    const err = await withTimeout(async (signal) => { await sleep(60_000, signal) }, 20, 'waiting').then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(TimeoutError)
  })

  it('aborts fn when the caller signal aborts', async () => {
    const controller = new AbortController()
    const pending = withTimeout(async (signal) => { await sleep(60_000, signal) }, 60_000, 'x', controller.signal)
    controller.abort()
    await expect(pending).rejects.toBeInstanceOf(AbortError)
  })
})
