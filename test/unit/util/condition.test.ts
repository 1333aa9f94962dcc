import { describe, expect, it } from 'vitest'
import { ConditionWaiters } from '../../../src/util/condition.js'
import { AbortError } from '../../../src/util/errors.js'

describe('ConditionWaiters', () => {
  it('resolves true as soon as a notified condition holds, and forgets the waiter', async () => {
    const w = new ConditionWaiters()
    let ready = false
    const waiting = w.until(() => ready, Date.now() + 60_000, new AbortController().signal)
    expect(w.size).toBe(1)
    w.notify()
    // woken, it re-checks the (still false) condition and waits again
    await new Promise((resolve) => setImmediate(resolve))
    expect(w.size).toBe(1)
    ready = true
    w.notify()
    await expect(waiting).resolves.toBe(true)
    expect(w.size).toBe(0)
  })

  it('resolves false at the deadline of the injected clock, without waiting when it has passed', async () => {
    let now = 1_000
    const w = new ConditionWaiters(() => now)
    await expect(w.until(() => false, 1_000, new AbortController().signal)).resolves.toBe(false)
    const waiting = w.until(() => false, 1_020, new AbortController().signal)
    now = 1_020
    await expect(waiting).resolves.toBe(false)
    expect(w.size).toBe(0)
  })

  it('rejects with AbortError when the signal aborts, and forgets the waiter', async () => {
    const w = new ConditionWaiters()
    const controller = new AbortController()
    const waiting = w.until(() => false, Date.now() + 60_000, controller.signal)
    controller.abort()
    await expect(waiting).rejects.toBeInstanceOf(AbortError)
    expect(w.size).toBe(0)
  })
})
