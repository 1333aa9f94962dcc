import { describe, expect, it } from 'vitest'
import { applyDecisions, membershipIdOf, type CommitteeChangeJson } from '../../../src/epochs/committee-chain.js'
import type { MembershipViewJson } from '../../../src/epochs/membership-requests.js'
import type { CommitteeJson, CommitteeMemberJson } from '../../../src/epochs/record.js'
import { EpochCommittees } from '../../../src/rewards/epoch-committees.js'
import { Database } from '../../../src/storage/index.js'
import { tempDir } from '../tmp.js'

/** A node's view of the committee of each epoch, from the coordinator's membership view. */

const hexKey = (i: number): string => i.toString(16).padStart(2, '0').repeat(32)
const node = (i: number): CommitteeMemberJson => ({ name: `v${i}`, peerId: `peer${i}`, publicKey: hexKey(i), multiaddrs: [`/ip4/127.0.0.1/tcp/${4000 + i}/p2p/peer${i}`] })
const committee = (ids: number[]): CommitteeJson => ({ membershipId: membershipIdOf(ids.map(hexKey)), members: ids.map(node) })
const GENESIS = committee([1, 2, 3, 4])

function view (changes: CommitteeChangeJson[], opts: { queue?: number[], bans?: number[] } = {}): MembershipViewJson {
  return {
    epoch: 10,
    committee: GENESIS,
    latest: changes.at(-1)?.committee ?? GENESIS,
    base: GENESIS,
    changes,
    parameters: {},
    queue: (opts.queue ?? []).map((i) => ({ member: node(i), joinedAt: 0 })),
    next: [],
    removals: [],
    missed: [],
    drops: [],
    bans: (opts.bans ?? []).map((i) => ({ member: node(i), by: 'evidence', reason: 'x', epoch: 9 })),
    locked: false,
    rules: { admission: 'open', maxQueue: 8, minCommittee: 3, maxCommittee: 10, dropAfterMissed: 3, banAfterDrops: 5 }
  }
}

const admit5: CommitteeChangeJson = { effectiveEpoch: 12, decidedAt: 9, previousMembershipId: GENESIS.membershipId, decisions: [{ kind: 'admitted', member: node(5), reason: '' }], committee: applyDecisions(GENESIS, [{ kind: 'admitted', member: node(5), reason: '' }]) }

describe('EpochCommittees', () => {
  it('answers each epoch\'s committee and round thresholds, stores the view for a restart, and tells listeners once per change', async () => {
    const db = await Database.open(await tempDir())
    const c = new EpochCommittees(GENESIS, node(1), db)
    let changes = 0
    c.onChange(() => { changes++ })
    // each committee change is learned once (WebSocket `committee` frames), a queue change is no committee change
    const learned: CommitteeChangeJson[] = []
    c.onLearned((change) => { learned.push(change) })
    expect(await c.update(view([admit5]))).toBe(true)
    expect(await c.update(view([admit5]))).toBe(false)
    expect(await c.update(view([admit5], { queue: [6] }))).toBe(true)
    expect(changes).toBe(2)
    expect(learned).toEqual([admit5])
    expect(c.committee(11).membershipId).toBe(GENESIS.membershipId)
    expect(c.committee(12).members.map((m) => m.name)).toContain('v5')
    expect([c.at(11).n, c.at(11).q, c.at(12).n, c.at(12).q]).toEqual([4, 3, 5, 4])
    expect(c.isMember(12, hexKey(5))).toBe(true)
    const again = new EpochCommittees(GENESIS, node(1), db)
    await again.load()
    expect(again.committee(12).membershipId).toBe(c.committee(12).membershipId)
    await db.close()
  })

  it('peers are the committees of the open and coming epochs; the gater admits them and the queue, never a banned key', async () => {
    const db = await Database.open(await tempDir())
    const c = new EpochCommittees(GENESIS, node(1), db)
    await c.update(view([admit5], { queue: [6], bans: [3] }))
    c.setEpoch(10, 2)
    expect(c.peers().map((m) => m.name).sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5'])
    const registered = c.registered().map((m) => m.name).sort()
    expect(registered).toEqual(['v1', 'v2', 'v4', 'v5', 'v6'])
    expect(c.registered().find((m) => m.name === 'v6')?.address).toBe('/ip4/127.0.0.1/tcp/4006')
    // long after the change: genesis-only epochs are closed, so the peers are the five
    c.setEpoch(40, 2)
    expect(c.peers()).toHaveLength(5)
    expect(c.waiting(hexKey(6))).toBe(true)
    expect(c.banned(hexKey(3))).toBe(true)
    await db.close()
  })
})
