import { describe, expect, it } from 'vitest'
import { SerialQueue } from '../../../src/contract/serial-queue.js'

/** A write whose completion the test decides. */
function pendingWrite (): { write: Promise<void>, finish: () => void, fail: (err: Error) => void } {
  const { promise, resolve, reject } = Promise.withResolvers<void>()
  return { write: promise, finish: () => { resolve() }, fail: reject }
}

/** Whether `p` has settled once the pending callbacks ran. */
async function settled (p: Promise<unknown>): Promise<boolean> {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('SerialQueue', () => {
  it('a task\'s answer waits for the write it issued; the next task runs meanwhile (its answer waits too)', async () => {
    const q = new SerialQueue()
    const w = pendingWrite()
    let ran = false
    const first = q.run(async () => { q.issued(w.write); return 1 })
    const second = q.run(async () => { ran = true; return 2 })
    expect(await settled(first)).toBe(false)
    expect(await settled(second)).toBe(false)
    expect(ran).toBe(true)
    w.finish()
    expect(await first).toBe(1)
    expect(await second).toBe(2)
  })

  it('a write issued before a task is queued (a request\'s nonce) holds that task\'s answer, not the answers given before it', async () => {
    const q = new SerialQueue()
    expect(await q.run(async () => 'before')).toBe('before')
    const nonce = pendingWrite()
    q.issued(nonce.write)
    const task = q.run(async () => 'after')
    expect(await settled(task)).toBe(false)
    nonce.finish()
    expect(await task).toBe('after')
  })

  it('a failed write reaches the answer that waits for it', async () => {
    const q = new SerialQueue()
    const nonce = pendingWrite()
    q.issued(nonce.write)
    const task = q.run(async () => 'x')
    nonce.fail(new Error('disk full'))
    await expect(task).rejects.toThrow('disk full')
  })
})
