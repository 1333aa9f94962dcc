import { describe, expect, it } from 'vitest'
import { membershipLines } from '../../../src/cli/contract/membership.js'
import { applyDecisions, membershipIdOf } from '../../../src/epochs/committee-chain.js'
import type { MembershipViewJson } from '../../../src/epochs/membership-requests.js'
import type { CommitteeJson, CommitteeMemberJson } from '../../../src/epochs/record.js'

/** What `ephemera contract status` prints about the living committee. */

const hexKey = (i: number): string => i.toString(16).padStart(2, '0').repeat(32)
const node = (i: number): CommitteeMemberJson => ({ name: `node${i}`, peerId: `peer-${i}`, publicKey: hexKey(i), multiaddrs: [`/ip4/127.0.0.1/tcp/${7000 + 2 * i - 1}`] })
const committee = (ids: number[]): CommitteeJson => ({ membershipId: membershipIdOf(ids.map(hexKey)), members: ids.map(node) })
const RULES: MembershipViewJson['rules'] = { admission: 'open', maxQueue: 64, minCommittee: 4, maxCommittee: 100, dropAfterMissed: 3, banAfterDrops: 5 }

function quiet (): MembershipViewJson {
  const c = committee([1, 2, 3, 4])
  // cast: the view may carry more than this printer reads (base committee, parameters)
  return { epoch: 7, committee: c, latest: c, base: c, parameters: {}, changes: [], queue: [], next: [], removals: [], missed: [], drops: [], bans: [], locked: false, rules: RULES } as unknown as MembershipViewJson
}

describe('contract status: the living committee', () => {
  it('a committee with nothing going on', () => {
    const lines = membershipLines(quiet())
    expect(lines[0]).toBe(`committee of epoch 7: 4 members (${committee([1, 2, 3, 4]).membershipId.slice(0, 12)}…): node1, node2, node3, node4`)
    expect(lines).toContain('manual lock: off; admission open, committee 4–100 members, drop after 3 missed epochs, ban after 5 drops')
    expect(lines).toContain('changes: none kept')
    expect(lines).toContain('queue: empty')
    expect(lines).toContain('staged for the next change: nothing')
    expect(lines).toContain('bans: none')
    expect(lines.some((l) => l.startsWith('drops') || l.startsWith('missed'))).toBe(false)
  })

  it('changes with their effective epochs and decisions, queue, staged, missed, drops, bans, lock', () => {
    const current = committee([1, 2, 3, 4])
    const admitted = { kind: 'admitted' as const, member: node(5), reason: 'admitted from the queue' }
    const dropped = { kind: 'dropped' as const, member: node(4), reason: 'missed 3 consecutive epochs' }
    const inForce = { effectiveEpoch: 6, decidedAt: 4, previousMembershipId: committee([1, 2, 3, 4, 6]).membershipId, decisions: [{ kind: 'left' as const, member: node(6), reason: 'asked to leave' }], committee: current }
    const next = applyDecisions(current, [dropped, admitted])
    const scheduled = { effectiveEpoch: 9, decidedAt: 7, previousMembershipId: current.membershipId, decisions: [dropped, admitted], committee: next }
    const evidenceHash = 'ab'.repeat(32)
    const view: MembershipViewJson = {
      ...quiet(),
      latest: next,
      changes: [inForce, scheduled],
      queue: [{ member: node(7), joinedAt: Date.UTC(2025, 0, 1) }],
      next: [{ member: node(8), joinedAt: Date.UTC(2025, 0, 2) }],
      removals: [{ kind: 'banned', member: node(3), reason: 'report-equivocation at epoch 6', evidenceHash }],
      missed: [{ member: node(2), count: 2 }],
      drops: [{ member: node(4), count: 1, epoch: 7, reason: 'missed 3 consecutive epochs' }],
      bans: [{ member: node(3), by: 'evidence', reason: 'report-equivocation at epoch 6', epoch: 7, evidenceHash }],
      locked: true
    }
    const lines = membershipLines(view)
    expect(lines).toContain(`newest committee (scheduled): 4 members (${next.membershipId.slice(0, 12)}…)`)
    expect(lines.find((l) => l.startsWith('manual lock'))).toMatch(/^manual lock: ON — no epoch commits until `ephemera contract unlock`/)
    expect(lines).toContain('changes: 2 kept, 1 scheduled')
    expect(lines).toContain(`  in force since epoch 6 (decided at epoch 4): left node6 (06060606…): asked to leave → 4 members (${current.membershipId.slice(0, 12)}…)`)
    expect(lines).toContain(`  scheduled for epoch 9 (decided at epoch 7): dropped node4 (04040404…): missed 3 consecutive epochs; admitted node5 (05050505…) → 4 members (${next.membershipId.slice(0, 12)}…)`)
    expect(lines).toContain('queue: 1 of at most 64')
    expect(lines).toContain('  1. node7 (07070707…) since 2025-01-01T00:00:00.000Z at /ip4/127.0.0.1/tcp/7013')
    expect(lines).toContain('staged for the next change: 1 admission, 1 removal')
    expect(lines).toContain('  admit node8 (08080808…) (queued 2025-01-02T00:00:00.000Z)')
    expect(lines).toContain(`  banned node3 (03030303…): report-equivocation at epoch 6 [evidence ${evidenceHash.slice(0, 16)}…]`)
    expect(lines).toContain('missed epochs in a row: node2 2')
    expect(lines).toContain('  node4 (04040404…): dropped 1 time, last at epoch 7: missed 3 consecutive epochs')
    expect(lines).toContain('bans: 1')
    expect(lines).toContain(`  node3 (03030303…): by evidence at epoch 7: report-equivocation at epoch 6; evidence ${evidenceHash} (GET /contract/evidence/${evidenceHash})`)
  })
})
