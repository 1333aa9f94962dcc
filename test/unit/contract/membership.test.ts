import { describe, expect, it } from 'vitest'
import { Membership, type MembershipRules } from '../../../src/contract/membership.js'
import { applyDecisions, membershipIdOf } from '../../../src/epochs/committee-chain.js'
import type { CommitteeJson, CommitteeMemberJson } from '../../../src/epochs/record.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'

/**
 * The living committee's pure state (src/contract/membership.ts): the queue, admissions at an
 * epoch boundary, drops, bans, rollback and pruning. Times and epochs are passed in (no clock).
 */

const hexKey = (i: number): string => i.toString(16).padStart(2, '0').repeat(32)
const node = (i: number): CommitteeMemberJson => ({ name: `v${i}`, peerId: `peer-${i}`, publicKey: hexKey(i), multiaddrs: [`/ip4/127.0.0.1/tcp/${4000 + i}`] })
const committee = (ids: number[]): CommitteeJson => ({ membershipId: membershipIdOf(ids.map(hexKey)), members: ids.map(node) })
const GENESIS = committee([1, 2, 3, 4])

function rules (over: Partial<MembershipRules> = {}): MembershipRules {
  return { minCommittee: 4, maxCommittee: 6, dropAfterMissed: 3, banAfterDrops: 2, admission: { mode: 'open', allowlist: [], maxQueue: 3 }, maxBans: 10, maxDropRecords: 10, ...over }
}

const fresh = (over: Partial<MembershipRules> = {}): Membership => new Membership(rules(over), Membership.genesis(GENESIS))
/** The error code a refused call throws. */
function refused (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof EphemeraError) return err.code
    throw err
  }
  throw new Error('expected a refusal')
}

const keys = (c: CommitteeJson): string[] => c.members.map((m) => m.publicKey).sort()

describe('the queue', () => {
  it('admits queued validators at the next change, in force two epochs after the one running, and never earlier', async () => {
    const m = fresh()
    expect(m.addToQueue(node(5), 1_000)).toEqual({ status: 'queued', position: 1 })
    expect(m.addToQueue(node(5), 1_100)).toEqual({ status: 'queued', position: 1 })
    expect(m.update(7)).toBe(true)
    expect(m.next.map((q) => q.member.name)).toEqual(['v5'])
    const change = m.commitChange(6, 7)
    expect(change?.effectiveEpoch).toBe(9)
    expect(change?.decidedAt).toBe(6)
    expect(change?.decisions).toEqual([{ kind: 'admitted', member: node(5), reason: 'admitted from the queue' }])
    expect(keys(m.committeeAt(8))).toEqual(keys(GENESIS))
    expect(keys(m.committeeAt(9))).toEqual(keys(committee([1, 2, 3, 4, 5])))
    expect(m.committeeAt(9).membershipId).toBe(membershipIdOf([1, 2, 3, 4, 5].map(hexKey)))
    // a second change in the same epoch comes into force after the first
    m.addToQueue(node(6), 3_000)
    m.update(7)
    expect(m.commitChange(7, 7)?.effectiveEpoch).toBe(10)
    expect(m.addToQueue(node(5), 4_000)).toEqual({ status: 'member' })
  })

  it('admits in join order up to the maximum size; the rest wait in the queue', () => {
    const m = fresh({ maxCommittee: 5 })
    m.addToQueue(node(7), 300)
    m.addToQueue(node(6), 100)
    m.addToQueue(node(5), 200)
    m.update(3)
    expect(m.next.map((q) => q.member.name)).toEqual(['v6'])
    expect(m.queue.map((q) => q.member.name)).toEqual(['v5', 'v7'])
  })

  it('refuses keys off the allowlist (genesis and dropped members may always return), banned keys, and a full queue', () => {
    const m = fresh({ admission: { mode: 'allowlist', allowlist: [hexKey(5)], maxQueue: 1 } })
    expect(refused(() => m.addToQueue(node(6), 1))).toBe(ErrorCode.FORBIDDEN)
    expect(m.addToQueue(node(5), 1).status).toBe('queued')
    const open = fresh({ admission: { mode: 'open', allowlist: [], maxQueue: 1 } })
    open.addToQueue(node(5), 1)
    expect(refused(() => open.addToQueue(node(6), 2))).toBe(ErrorCode.QUEUE_FULL)
    open.banKey(node(7), { by: 'admin', reason: 'test', epoch: 1 })
    expect(refused(() => open.addToQueue(node(7), 3))).toBe(ErrorCode.BANNED)
  })

  it('removeFromQueue: out of the queue or the staged admissions; a member leaves at the next change, never below the minimum', () => {
    const m = fresh({ minCommittee: 4 })
    m.addToQueue(node(5), 1)
    m.addToQueue(node(6), 2)
    m.update(2)
    expect(m.removeFromQueue(hexKey(6))).toEqual({ status: 'unqueued' })
    expect(m.next.map((q) => q.member.name)).toEqual(['v5'])
    expect(m.removeFromQueue(hexKey(2))).toEqual({ status: 'leaving' })
    // 4 - 1 + 1 = 4: a second leave would go below 4
    expect(refused(() => m.removeFromQueue(hexKey(3)))).toBe(ErrorCode.COMMITTEE_SIZE)
    expect(refused(() => m.removeFromQueue(hexKey(9)))).toBe(ErrorCode.NOT_FOUND)
    const change = m.commitChange(2, 2)
    expect(change?.decisions.map((d) => `${d.kind} ${d.member.name}`)).toEqual(['left v2', 'admitted v5'])
    expect(keys(m.latest)).toEqual(keys(committee([1, 3, 4, 5])))
  })

  it('a rollback returns the staged admissions to the front of the queue; a later commit admits them', () => {
    const m = fresh({ maxCommittee: 5 })
    m.addToQueue(node(5), 1)
    m.addToQueue(node(6), 2)
    m.update(2)
    expect(m.next.map((q) => q.member.name)).toEqual(['v5'])
    m.rollback()
    expect(m.next).toEqual([])
    expect(m.queue.map((q) => q.member.name)).toEqual(['v5', 'v6'])
    expect(m.takeEvents().map((e) => e.kind)).toContain('returned-to-queue')
    m.update(3)
    expect(m.commitChange(3, 3)?.decisions.map((d) => d.member.name)).toEqual(['v5'])
  })
})

describe('drops and bans', () => {
  it('drops a member after k consecutive missed epochs (a report resets the count), not before; it may queue again', () => {
    const m = fresh({ minCommittee: 3, dropAfterMissed: 3 })
    const all = new Set(GENESIS.members.map((x) => x.publicKey))
    const without4 = new Set([...all].filter((k) => k !== hexKey(4)))
    m.noteCommitted(1, GENESIS, without4)
    m.noteCommitted(2, GENESIS, without4)
    m.noteCommitted(3, GENESIS, all)
    m.noteCommitted(4, GENESIS, without4)
    m.noteMissed(hexKey(4), 5)
    m.noteMissed(hexKey(4), 5) // two leases let expire in one epoch count once
    m.update(6)
    expect(m.missed(hexKey(4))).toBe(2)
    expect(m.removals).toEqual([])
    m.noteCommitted(6, GENESIS, without4)
    m.update(7)
    expect(m.removals.map((d) => `${d.kind} ${d.member.name}`)).toEqual(['dropped v4'])
    expect(m.drops).toEqual([{ member: node(4), count: 1, epoch: 7, reason: 'missed 3 consecutive epochs' }])
    const change = m.commitChange(7, 7)
    expect(keys(change?.committee as CommitteeJson)).toEqual(keys(committee([1, 2, 3])))
    expect(m.missed(hexKey(4))).toBe(0)
    // back: it queues again and is admitted
    expect(m.addToQueue(node(4), 300).status).toBe('queued')
  })

  it('never drops below the minimum size (it waits, and says so); timeouts alone never ban below the drop threshold', () => {
    const m = fresh({ minCommittee: 4, dropAfterMissed: 1, banAfterDrops: 2 })
    m.noteMissed(hexKey(4), 1)
    m.update(2)
    expect(m.removals).toEqual([])
    expect(m.takeEvents().some((e) => e.kind === 'waiting')).toBe(true)
    expect(m.bans).toEqual([])
  })

  it('bans a key dropped more than ban_after_drops times', () => {
    const m = fresh({ minCommittee: 3, dropAfterMissed: 1, banAfterDrops: 2 })
    for (let round = 0; round < 3; round++) {
      m.noteMissed(hexKey(4), 10 * round + 1)
      m.update(10 * round + 2)
      m.commitChange(10 * round + 2, 10 * round + 2)
      if (round < 2) {
        expect(m.ban(hexKey(4))).toBeUndefined()
        m.addToQueue(node(4), round)
        m.update(10 * round + 3)
        m.commitChange(10 * round + 3, 10 * round + 3)
        expect(m.latest.members.some((x) => x.publicKey === hexKey(4))).toBe(true)
      }
    }
    expect(m.ban(hexKey(4))).toMatchObject({ by: 'drops', reason: 'dropped 3 times (more than 2)' })
    expect(refused(() => m.addToQueue(node(4), 99))).toBe(ErrorCode.BANNED)
  })

  it('a ban refuses the key at once, takes it out at the next change even below the minimum, and an unban lets it queue again', () => {
    const m = fresh({ minCommittee: 4 })
    m.addToQueue(node(5), 1)
    expect(m.banKey(node(2), { by: 'evidence', reason: 'report-equivocation at epoch 3', epoch: 4, evidenceHash: 'ab'.repeat(32) })).toBe(true)
    expect(m.banKey(node(2), { by: 'admin', reason: 'again', epoch: 4 })).toBe(false)
    expect(m.banKey(node(5), { by: 'admin', reason: 'queued, then banned', epoch: 4 })).toBe(true)
    expect(m.queue).toEqual([])
    const change = m.commitChange(4, 4)
    expect(change?.decisions).toEqual([{ kind: 'banned', member: node(2), reason: 'report-equivocation at epoch 3', evidenceHash: 'ab'.repeat(32) }])
    expect(change?.committee.members.length).toBe(3)
    m.unban(hexKey(2))
    expect(m.addToQueue(node(2), 5).status).toBe('queued')
    expect(refused(() => m.unban(hexKey(2)))).toBe(ErrorCode.NOT_FOUND)
  })

  it('keeps at most max_bans bans and max_drop_records drop histories (the oldest go)', () => {
    const m = fresh({ maxBans: 3, maxDropRecords: 2, minCommittee: 1, dropAfterMissed: 1, banAfterDrops: 0 })
    for (let i = 10; i < 20; i++) m.banKey(node(i), { by: 'admin', reason: 'flood', epoch: i })
    expect(m.bans.map((b) => b.member.name).sort()).toEqual(['v17', 'v18', 'v19'])
    for (const [epoch, id] of [[1, 1], [2, 2], [3, 3]] as const) {
      m.noteMissed(hexKey(id), epoch)
      m.update(epoch + 1)
    }
    expect(m.drops.map((d) => d.member.name).sort()).toEqual(['v2', 'v3'])
  })
})

describe('the committee of each epoch', () => {
  it('prunes changes no open epoch needs, keeping the committee of every epoch from the oldest needed on', () => {
    const m = fresh({ maxCommittee: 10 })
    for (let i = 5; i <= 8; i++) {
      m.addToQueue(node(i), i)
      m.update(i * 10)
      m.commitChange(i * 10, i * 10) // in force from i*10 + 2
    }
    const before = [50, 52, 62, 72, 82, 100].map((e) => keys(m.committeeAt(e)))
    m.prune(65)
    expect(m.changes.map((c) => c.effectiveEpoch)).toEqual([62, 72, 82])
    expect([72, 82, 100].map((e) => keys(m.committeeAt(e)))).toEqual(before.slice(3))
    expect(keys(m.committeeAt(65))).toEqual(before[2])
  })

  it('applyDecisions refuses an inconsistent change', () => {
    expect(() => applyDecisions(GENESIS, [{ kind: 'admitted', member: node(1), reason: '' }])).toThrow(/already a member/)
    expect(() => applyDecisions(GENESIS, [{ kind: 'dropped', member: node(9), reason: '' }])).toThrow(/not a member/)
    expect(() => applyDecisions(GENESIS, [{ kind: 'left', member: node(1), reason: '' }, { kind: 'banned', member: node(1), reason: '' }])).toThrow(/twice/)
  })

  it('manual lock is part of the stored state', () => {
    const m = fresh()
    m.setLocked(true)
    const again = new Membership(rules(), JSON.parse(JSON.stringify(m.toJson())))
    expect(again.locked).toBe(true)
    again.setLocked(false)
    expect(again.locked).toBe(false)
  })
})
