import { describe, expect, it } from 'vitest'
import { epochLeader, fallbackDelay, proposerRank, ProposerTiming } from '../../../src/rewards/proposer-timing.js'

describe('proposer ranks', () => {
  const members = ['cc', 'aa', 'dd', 'bb']

  it('rotate with the epoch over the members sorted by key; each epoch has exactly one leader', () => {
    for (let epoch = 1; epoch <= 8; epoch++) {
      const ranks = members.map((m) => proposerRank(members, m, epoch))
      expect([...ranks].sort()).toEqual([0, 1, 2, 3])
      expect(proposerRank(members, epochLeader(members, epoch) as string, epoch)).toBe(0)
    }
    expect(epochLeader(members, 4)).toBe('aa')
    expect(epochLeader(members, 5)).toBe('bb')
    expect(proposerRank(members, 'aa', 5)).toBe(3)
  })

  it('puts a non-member after every member', () => {
    expect(proposerRank(members, 'ee', 3)).toBe(4)
  })
})

describe('ProposerTiming', () => {
  it('uses the preset stagger until it has measured an RBC', () => {
    expect(new ProposerTiming().stagger(200, 6000)).toBe(200)
  })

  it('follows 1.5 × the slowest recent sample, and forgets samples beyond its window', () => {
    const timing = new ProposerTiming(3)
    timing.record(800)
    timing.record(300)
    expect(timing.stagger(200, 6000)).toBe(1200)
    timing.record(100)
    timing.record(100)
    // 800 left the window of 3
    expect(timing.samples).toEqual([300, 100, 100])
    expect(timing.stagger(200, 6000)).toBe(450)
    timing.record(10)
    timing.record(10)
    timing.record(10)
    expect(timing.stagger(200, 6000)).toBe(200)
  })

  it('is capped at a quarter of the epoch deadline, so rank 1 still proposes in time when the leader is silent', () => {
    const timing = new ProposerTiming()
    timing.record(10_000)
    expect(timing.stagger(200, 6000)).toBe(1500)
    // the preset's stagger stays the floor even above the cap
    expect(timing.stagger(2000, 6000)).toBe(2000)
  })

  it('ignores samples that are not durations', () => {
    const timing = new ProposerTiming()
    timing.record(Number.NaN)
    timing.record(-5)
    timing.record(Number.POSITIVE_INFINITY)
    expect(timing.samples).toEqual([])
  })

  it('keeps a bounded number of samples however many epochs pass', () => {
    const timing = new ProposerTiming(8)
    for (let i = 0; i < 10_000; i++) timing.record(i % 50)
    expect(timing.samples.length).toBe(8)
  })
})

describe('fallbackDelay', () => {
  it('is 0 for the leader, whatever it knows', () => {
    expect(fallbackDelay(0, 500, false, 6000)).toBe(0)
    expect(fallbackDelay(0, 500, true, 6000)).toBe(0)
  })

  it('is rank × δ while the leader has sent nothing this epoch', () => {
    expect(fallbackDelay(1, 200, false, 6000)).toBe(200)
    expect(fallbackDelay(3, 200, false, 6000)).toBe(600)
  })

  it('gives a leader whose report arrived a quarter of the epoch deadline before rank 1, ranks after it δ apart', () => {
    expect(fallbackDelay(1, 200, true, 6000)).toBe(1500)
    expect(fallbackDelay(3, 200, true, 6000)).toBe(1900)
    // never sooner than the silent-leader rule
    expect(fallbackDelay(1, 2000, true, 6000)).toBe(2000)
    for (const rank of [1, 2, 5, 24]) {
      for (const stagger of [100, 1500, 4000]) expect(fallbackDelay(rank, stagger, true, 6000)).toBeGreaterThanOrEqual(fallbackDelay(rank, stagger, false, 6000))
    }
  })
})
