import { describe, expect, it } from 'vitest'
import { latencyChart, niceStep } from '../../../src/dashboard/browser/chart.js'
import { formatMs, latencySeries, memberRows, phases } from '../../../src/dashboard/browser/model.js'
import type { EpochSummaryJson, MembershipViewJson, RoundViewJson, Snapshot } from '../../../src/dashboard/browser/api.js'
import { applyDecisions } from '../../../src/epochs/committee-chain.js'
import { COMMITTEE, member } from '../contract/fixtures.js'

/** The dashboard's pure parts: each node's status, the phases, the latency chart's geometry. */

const outsider = { name: 'node9', peerId: '12D3KooWnine', publicKey: '99'.repeat(32) }
const joiner = { name: 'node5', peerId: '12D3KooWfive', publicKey: 'ff'.repeat(32) }

function membership (over: Partial<MembershipViewJson> = {}): MembershipViewJson {
  return {
    epoch: 10,
    committee: COMMITTEE,
    latest: COMMITTEE,
    base: COMMITTEE,
    changes: [],
    parameters: {},
    queue: [],
    next: [],
    removals: [],
    missed: [],
    drops: [],
    bans: [],
    locked: false,
    rules: { admission: 'allowlist', maxQueue: 16, minCommittee: 3, maxCommittee: 8, dropAfterMissed: 3, banAfterDrops: 2 },
    ...over
  }
}

const committed = (epoch: number, winner: string, latencyMs: number): EpochSummaryJson => ({ epoch, status: 'committed', startMs: 0, endMs: epoch * 1000, winner, latencyMs, acceptedAt: epoch * 1000 + latencyMs })
const epochs = (list: EpochSummaryJson[]): Snapshot['epochs'] => ({ currentEpoch: 11, epochs: list })

describe('memberRows', () => {
  it('every member active, with its last win among the recent epochs', () => {
    const rows = memberRows({ membership: membership(), epochs: epochs([committed(9, 'node2', 300), committed(8, 'node2', 400), committed(7, 'node1', 200)]) })
    expect(rows.map((r) => [r.name, r.state, r.lastWin])).toEqual([['node1', 'active', 7], ['node2', 'active', 9], ['node3', 'active', undefined], ['node4', 'active', undefined]])
  })

  it('missing, leaving, joining, queued, dropped and banned members, each once, the ban\'s evidence linked', () => {
    const next = applyDecisions(COMMITTEE, [{ kind: 'dropped', member: member(3), reason: 'missed 3 consecutive epochs' }, { kind: 'admitted', member: joiner, reason: 'admitted from the queue' }])
    const change = { effectiveEpoch: 12, decidedAt: 10, previousMembershipId: COMMITTEE.membershipId, decisions: [], committee: next }
    const rows = memberRows({
      membership: membership({
        latest: next,
        changes: [change],
        missed: [{ member: member(1), count: 2 }],
        removals: [{ kind: 'left', member: member(2), reason: 'asked to leave' }],
        queue: [{ member: outsider, joinedAt: 1 }],
        drops: [{ member: member(3), count: 1, epoch: 10, reason: 'missed 3 consecutive epochs' }],
        bans: [{ member: { name: 'node7', peerId: 'p7', publicKey: '77'.repeat(32) }, by: 'evidence', reason: 'equivocated', epoch: 6, evidenceHash: 'ab'.repeat(32) }]
      }),
      epochs: epochs([])
    })
    const by = Object.fromEntries(rows.map((r) => [r.name, r]))
    expect(rows).toHaveLength(7)
    expect(by.node1).toMatchObject({ state: 'active', missed: 0 })
    expect(by.node2).toMatchObject({ state: 'missing', missed: 2, detail: 'missed the last 2 epochs (dropped after 3)' })
    expect(by.node3).toMatchObject({ state: 'leaving', detail: 'left at the next change: asked to leave' })
    expect(by.node4).toMatchObject({ state: 'leaving', drops: 1, detail: 'out of the committee from epoch 12' })
    expect(by.node5).toMatchObject({ state: 'joining', detail: 'member from epoch 12' })
    expect(by.node9).toMatchObject({ state: 'queued', detail: 'waiting in the queue (position 1)' })
    expect(by.node7).toMatchObject({ state: 'banned', evidenceHash: 'ab'.repeat(32), detail: 'banned at epoch 6 (evidence): equivocated' })
  })
})

describe('phases', () => {
  const now = { epoch: 11, startMs: 10_000, endMs: 12_000, genesisMs: 0, epochMs: 2000, environment: { name: 'testing' }, committee: { membershipId: 'x', size: 4 }, parameters: { aggregation: 'median', mixnodes: 100, rewardsThreshold: 3 } }
  const round = (epoch: number, over: Partial<RoundViewJson>): RoundViewJson => ({ epoch, status: 'open', version: 1, attempt: 0, attemptStartedAt: 0, attemptDeadline: 0, finalizationDeadline: 0, events: [], blockHash: null, blockBy: null, progress: { chunks: 4, contributed: 0, verified: 0 }, chunks: [], ...over })

  it('the running epoch with its elapsed share, then each open round, newest first', () => {
    const list = phases({ now, membership: membership(), rounds: [round(9, { blockHash: 'cd'.repeat(32), blockBy: COMMITTEE.members[1]!.publicKey, progress: { chunks: 4, contributed: 4, verified: 2 }, attempt: 1 }), round(10, {})] }, 11_500)
    expect(list.map((p) => [p.epoch, p.label, p.progress])).toEqual([[11, 'running', 0.75], [10, 'consensus', 0], [9, 'chunks', 0.75]])
    expect(list[0]?.detail).toBe('nodes gather reports; ends in 500 ms')
    expect(list[2]?.detail).toBe('block cdcdcdcdcdcd… by node2: 4/4 chunks contributed, 2/4 verified, attempt 2')
  })
})

describe('latency', () => {
  it('the series holds committed epochs only, oldest first', () => {
    const list = [committed(9, 'a', 300), { epoch: 8, status: 'failed', startMs: 0, endMs: 0, reason: 'x' } as EpochSummaryJson, committed(7, 'b', 200)]
    expect(latencySeries(list)).toEqual([{ epoch: 7, latencyMs: 200, at: 7200 }, { epoch: 9, latencyMs: 300, at: 9300 }])
  })

  it('niceStep: 1, 2 or 5 times a power of ten', () => {
    expect([niceStep(380, 4), niceStep(1000, 4), niceStep(0, 4), niceStep(7300, 4)]).toEqual([100, 500, 1, 2000])
  })

  it('the chart: points inside the plot, the y axis from 0 to a whole step above the maximum, the median', () => {
    const c = latencyChart([{ epoch: 3, latencyMs: 400 }, { epoch: 1, latencyMs: 200 }, { epoch: 2, latencyMs: 380 }], { width: 640, height: 220 })
    expect(c.points.map((p) => p.epoch)).toEqual([1, 2, 3])
    expect(c.points[0]?.x).toBe(c.plot.left)
    expect(c.points[2]?.x).toBe(c.plot.right)
    expect(c.points[0]?.y).toBe(c.plot.bottom - (200 / 400) * (c.plot.bottom - c.plot.top))
    expect(c.points[2]?.y).toBe(c.plot.top)
    expect(c.yTicks.map((t) => t.label)).toEqual(['0 ms', '100 ms', '200 ms', '300 ms', '400 ms'])
    expect(c.median?.ms).toBe(380)
    expect(c.path).toMatch(/^M56,\d+(\.\d)? L\d+(\.\d)?,\d+(\.\d)? L628,12$/)
    expect(latencyChart([], { width: 640, height: 220 })).toMatchObject({ path: '', points: [], xTicks: [] })
  })

  it('formatMs', () => {
    expect([formatMs(950), formatMs(1234), formatMs(12_345), formatMs(185_000), formatMs(7_440_000)]).toEqual(['950 ms', '1.2 s', '12 s', '3 min 5 s', '2 h 4 min'])
  })
})
