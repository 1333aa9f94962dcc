import { afterEach, describe, expect, it, vi } from 'vitest'
import { RoundWaiters } from '../../../src/contract/round-waiters.js'

describe('RoundWaiters (long polls of a round)', () => {
  afterEach(() => { vi.useRealTimers() })

  it('wakes the waiters of an epoch, times out the others, and answers at once past its bound', async () => {
    vi.useFakeTimers()
    const waiters = new RoundWaiters(3)
    const done: string[] = []
    const track = (name: string, p: Promise<unknown>): void => { void p.then(() => { done.push(name) }) }
    track('a1', waiters.wait(1, 10_000))
    track('a2', waiters.wait(1, 10_000))
    track('b', waiters.wait(2, 5_000))
    expect(waiters.size).toBe(3)
    // over the bound: answered at once (the client then simply polls)
    track('over', waiters.wait(3, 10_000))
    await vi.advanceTimersByTimeAsync(0)
    expect(done).toEqual(['over'])
    // and says it did not wait (a caller waiting in a loop then answers instead of spinning)
    expect(await waiters.wait(3, 10_000)).toBe(false)
    waiters.wake(1)
    await vi.advanceTimersByTimeAsync(0)
    expect(done.sort()).toEqual(['a1', 'a2', 'over'])
    expect(waiters.size).toBe(1)
    await vi.advanceTimersByTimeAsync(5_000)
    expect(done).toContain('b')
    expect(waiters.size).toBe(0)
  })

  it('an aborted request stops waiting and frees its place', async () => {
    vi.useFakeTimers()
    const waiters = new RoundWaiters(1)
    const controller = new AbortController()
    let resolved = false
    void waiters.wait(1, 60_000, controller.signal).then(() => { resolved = true })
    expect(waiters.size).toBe(1)
    controller.abort()
    await vi.advanceTimersByTimeAsync(0)
    expect(resolved).toBe(true)
    expect(waiters.size).toBe(0)
  })
})
