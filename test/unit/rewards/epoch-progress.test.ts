import { describe, expect, it } from 'vitest'
import { ProgressStore, type EpochProgress } from '../../../src/rewards/epoch-progress.js'
import { Database } from '../../../src/storage/index.js'
import { tempDir } from '../tmp.js'

const state = (epoch: number, s: EpochProgress['state']): EpochProgress => ({ epoch, state: s, startMs: 0, endMs: 1_000, reporters: [], times: {} })

describe('ProgressStore', () => {
  it('writes made without waiting for the one before land in the order they were made: a restart loads the newest state', async () => {
    const dir = await tempDir()
    let db = await Database.open(dir)
    try {
      const store = new ProgressStore(db, { keepInMemory: 8, keepStored: 16 })
      // a pipeline goes on while its states are written: many writes of one epoch in flight at once
      const states: EpochProgress['state'][] = ['computing', 'gossiping', 'broadcasting', 'submitting', 'committed']
      const writes: Array<Promise<void>> = []
      for (let round = 0; round < 20; round++) {
        for (const s of states) writes.push(store.put({ ...state(round + 1, s), reason: `write ${writes.length}` }))
      }
      await Promise.all(writes)
      await db.close()
      db = await Database.open(dir)
      const loaded = await new ProgressStore(db, { keepInMemory: 32, keepStored: 32 }).load()
      expect(loaded.map((p) => p.epoch)).toEqual(Array.from({ length: 20 }, (_x, i) => 20 - i))
      expect(loaded.every((p) => p.state === 'committed')).toBe(true)
      expect(loaded.find((p) => p.epoch === 20)?.reason).toBe(`write ${writes.length - 1}`)
    } finally {
      await db.close()
    }
  })
})
