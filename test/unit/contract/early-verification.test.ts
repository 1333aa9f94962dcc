import { afterEach, describe, expect, it, vi } from 'vitest'
import { verifySignature } from '../../../src/crypto/keys.js'
import { verifyRecord } from '../../../src/epochs/record.js'
import { chunkVerifiers, leaseHolder } from '../../../src/epochs/rotation.js'
import { ErrorCode } from '../../../src/util/errors.js'
import { COMMITTEE, refused } from './fixtures.js'
import { blockOf, contributeAll, endOf, ENV, genesisMemberOf, harness, roundOf } from './round-driver.js'

/**
 * A chunk's verifiers follow from its lease holder, so they are assigned with the lease and may
 * verify as soon as the round has its block, before the chunk's contribution arrives: members do
 * not wait for each other's uploads (contribution → long poll → verification) on the way to the
 * commit. docs/PROTOCOL.md §7.6.
 */

const SORTED = COMMITTEE.members.map((m) => m.publicKey).sort()
const memberOf = genesisMemberOf

afterEach(() => { vi.useRealTimers() })

describe('verifying a chunk before its contribution', () => {
  it('each chunk\'s verifiers are assigned when the round opens, from its lease holder', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const round = await roundOf(h, 1)
    for (const chunk of round.chunks) {
      expect(chunk.contribution).toBeUndefined()
      expect(chunk.verifiers).toEqual(chunkVerifiers(SORTED, leaseHolder(SORTED, 1, chunk.index, 0, 0), 0, 2))
      expect(chunk.verifiers).not.toContain(chunk.lease.holder)
    }
  })

  it('is refused before the round has its block; once it has, an agreeing finding counts and the last contribution commits the epoch', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const b = blockOf(1)
    const opened = await roundOf(h, 1)
    const v3 = opened.chunks[3]?.verifiers[0] as string
    await refused(h.coordinator.tryVerify(1, 3, memberOf(v3), b.verification(3, v3)), ErrorCode.EPOCH_NOT_READY, /no block yet/)

    // chunk 0's contribution brings the block; chunks 1-3 are verified before they are contributed
    await contributeAll(h, 1, b, [0])
    for (const chunk of (await roundOf(h, 1)).chunks) {
      for (const v of chunk.verifiers) {
        const { committed } = await h.coordinator.tryVerify(1, chunk.index, memberOf(v), b.verification(chunk.index, v))
        expect(committed).toBe(false)
      }
    }
    const verified = await roundOf(h, 1)
    expect(verified.chunks.map((c) => c.verifications.length)).toEqual([2, 2, 2, 2])
    expect(verified.chunks.map((c) => c.contribution != null)).toEqual([true, false, false, false])
    // a second finding by the same verifier is a duplicate, as after a contribution; a chunk that does not exist is not found
    await refused(h.coordinator.tryVerify(1, 4, memberOf(v3), b.verification(3, v3)), ErrorCode.NOT_FOUND, /there is no chunk 4/)
    await refused(h.coordinator.tryVerify(1, 3, memberOf(v3), b.verification(3, v3)), ErrorCode.DUPLICATE)

    await contributeAll(h, 1, b, [1, 2])
    expect(await h.store.record(1)).toBeUndefined()
    // the last contribution completes the round: it commits at once, without waiting for a tick
    await contributeAll(h, 1, b, [3])
    const record = await h.store.record(1)
    expect(record?.submission.blockHash).toBe(b.sub.blockHash)
    for (const c of record?.chunks ?? []) expect(c.verifications.map((v) => v.verifier)).toEqual(verified.chunks[c.index]?.verifiers)
    const report = verifyRecord(record!, verifySignature)
    expect(report.ok, report.failure).toBe(true)
  })

  it('a disagreeing finding waits for the contribution (refused, nobody banned); a finding whose ok flag contradicts its hashes is refused', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b, [0])
    const round = await roundOf(h, 1)
    const v = round.chunks[2]?.verifiers[0] as string
    const skewed = b.sub.rewards.slice(10, 15).map((r) => ({ ...r, reward: '1' }))
    await refused(h.coordinator.tryVerify(1, 2, memberOf(v), b.verification(2, v, skewed)), ErrorCode.EPOCH_NOT_READY, /failed verification is taken once/)
    expect(h.coordinator.committees.membership.ban(v)).toBeUndefined()
    await refused(h.coordinator.tryVerify(1, 2, memberOf(v), { ...b.verification(2, v), ok: false }), ErrorCode.BAD_REQUEST, /ok = false/)
    expect((await roundOf(h, 1)).chunks[2]?.verifications).toEqual([])
  })

  it('when a lease passes to the next member the chunk\'s verifiers follow it: findings of members no longer assigned are dropped', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b, [0])
    const before = await roundOf(h, 1)
    const chunk = before.chunks[1] as (typeof before.chunks)[number]
    for (const v of chunk.verifiers) await h.coordinator.tryVerify(1, 1, memberOf(v), b.verification(1, v))
    // chunk 1's holder lets its lease expire
    h.clock.now = chunk.lease.deadline + 1
    await h.coordinator.update()
    const after = await roundOf(h, 1)
    const moved = after.chunks[1] as (typeof after.chunks)[number]
    expect(moved.lease.holder).toBe(leaseHolder(SORTED, 1, 1, 1, 0))
    expect(moved.verifiers).toEqual(chunkVerifiers(SORTED, moved.lease.holder, 0, 2))
    expect(moved.verifiers).not.toContain(moved.lease.holder)
    const kept = chunk.verifiers.filter((v) => moved.verifiers.includes(v))
    expect(moved.verifications.map((v) => v.verifier)).toEqual(kept)
    // the new holder was a verifier of the chunk: its finding is gone with its assignment
    expect(chunk.verifiers).toContain(moved.lease.holder)
    expect(moved.verifications.map((v) => v.verifier)).not.toContain(moved.lease.holder)
  })
})

describe('a member\'s uploads in one step (tryUploadMany)', () => {
  it('its contribution brings the block and its findings, taken after it, count at once; the upload that completes the round commits it', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const b = blockOf(1)
    const round = await roundOf(h, 1)
    const holders = round.chunks.map((c) => c.lease.holder)
    const upload = (member: string): Parameters<typeof h.coordinator.tryUploadMany>[2] => {
      const mine = round.chunks.filter((c) => c.lease.holder === member)
      return {
        contributions: {
          blockHash: b.sub.blockHash as string,
          lock: true,
          ...(member === holders[0] ? { block: { header: b.sub.header as never, certificate: b.sub.certificate as never, reports: b.sub.reports } } : {}),
          chunks: mine.map((c) => ({ chunk: c.index, rows: b.contribution(c.index, member).rows, signature: b.contribution(c.index, member).signature }))
        },
        verifications: round.chunks.filter((c) => c.verifiers.includes(member)).map((c) => ({ ...b.verification(c.index, member), chunk: c.index }))
      }
    }
    const members = [...new Set(holders)]
    // the first: its chunk fixes the block, then its findings on chunks nobody has uploaded yet
    const first = await h.coordinator.tryUploadMany(1, memberOf(holders[0] as string), upload(holders[0] as string))
    expect(first.results.every((r) => r.ok)).toBe(true)
    expect(first.verifications.length).toBeGreaterThan(0)
    expect(first.verifications.every((r) => r.ok)).toBe(true)
    expect(first.committed).toBe(false)
    const rest = members.filter((m) => m !== holders[0])
    for (const [i, m] of rest.entries()) {
      const answer = await h.coordinator.tryUploadMany(1, memberOf(m), upload(m))
      expect(answer.results.every((r) => r.ok) && answer.verifications.every((r) => r.ok)).toBe(true)
      expect(answer.committed).toBe(i === rest.length - 1)
    }
    const record = await h.store.record(1)
    const report = verifyRecord(record!, verifySignature)
    expect(report.ok, report.failure).toBe(true)
  })

  it('findings sent before any block is fixed are refused, each with 425 ERR_EPOCH_NOT_READY', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const b = blockOf(1)
    const round = await roundOf(h, 1)
    const v = round.chunks[1]?.verifiers[0] as string
    const answer = await h.coordinator.tryUploadMany(1, memberOf(v), { verifications: [{ ...b.verification(1, v), chunk: 1 }] })
    expect(answer.verifications).toMatchObject([{ chunk: 1, ok: false, code: ErrorCode.EPOCH_NOT_READY }])
    expect(answer.committed).toBe(false)
  })
})

describe('the round of an epoch opens at its end', () => {
  it('start() runs an update at every epoch\'s end, so the round is open before any member asks', async () => {
    const h = await harness()
    h.clock.now = endOf(1) - 5
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    // the coordinator's serial queue runs its tasks in order: a task behind the update waits for it
    const settled = async (): Promise<unknown> => await h.coordinator.tryAdvance(1)
    h.coordinator.start({ onError: (err) => { throw err } })
    try {
      expect(h.coordinator.openRounds()).toEqual([])
      h.clock.now = endOf(1) + 1
      await vi.advanceTimersByTimeAsync(6)
      await settled()
      expect(h.coordinator.openRounds().map((r) => r.epoch)).toEqual([1])
      // and again at the next epoch's end: the ticks meanwhile (a quarter of the lease timeout)
      // find nothing to open; the one at the end does, before the next tick
      await vi.advanceTimersByTimeAsync(ENV.epochMs - 1)
      await settled()
      expect(h.coordinator.openRounds().map((r) => r.epoch)).toEqual([1])
      h.clock.now = endOf(2) + 1
      await vi.advanceTimersByTimeAsync(1)
      await settled()
      expect(h.coordinator.openRounds().map((r) => r.epoch)).toEqual([1, 2])
    } finally {
      await h.coordinator.stop()
    }
  })
})
