import { describe, expect, it } from 'vitest'
import { RecordSummaries } from '../../../src/contract/summaries.js'
import type { EpochRecordJson } from '../../../src/epochs/record.js'

/** The coordinator's summaries of committed records: each read from the store once, at most `max` kept. */

const record = (epoch: number): EpochRecordJson => ({
  epoch,
  startMs: epoch * 1_000,
  endMs: (epoch + 1) * 1_000,
  winner: { name: `node${epoch % 4 + 1}` },
  submission: { mode: 'consensus', blockHash: 'ab'.repeat(32), reports: [{}, {}, {}], certificate: { signatures: [{}, {}, {}] } },
  acceptedAt: (epoch + 1) * 1_000 + 300,
  latencyMs: 300,
  committee: { members: [{}, {}, {}, {}] }
}) as unknown as EpochRecordJson

describe('RecordSummaries', () => {
  it('reads a committed record once; an epoch without a record is asked again until it has one', async () => {
    const stored = new Map<number, EpochRecordJson>([[1, record(1)]])
    const loads: number[] = []
    const summaries = new RecordSummaries(async (epoch) => { loads.push(epoch); return stored.get(epoch) })
    expect(await summaries.get(1)).toMatchObject({ epoch: 1, status: 'committed', winner: 'node2', reports: 3, signatures: 3, committeeSize: 4, latencyMs: 300 })
    expect(await summaries.get(1)).toMatchObject({ epoch: 1 })
    expect(await summaries.get(2)).toBeUndefined()
    stored.set(2, record(2))
    expect(await summaries.get(2)).toMatchObject({ epoch: 2, status: 'committed' })
    expect(await summaries.get(2)).toMatchObject({ epoch: 2 })
    expect(loads).toEqual([1, 2, 2])
  })

  it('keeps at most max summaries, the newest epochs; an older one is read again when asked', async () => {
    const loads: number[] = []
    const summaries = new RecordSummaries(async (epoch) => { loads.push(epoch); return record(epoch) }, 4)
    for (let e = 1; e <= 10; e++) await summaries.get(e)
    expect(summaries.size).toBe(4)
    loads.length = 0
    for (const e of [7, 8, 9, 10]) await summaries.get(e)
    expect(loads).toEqual([])
    await summaries.get(3)
    expect(loads).toEqual([3])
    expect(summaries.size).toBe(4)
  })
})
