import { describe, expect, it } from 'vitest'
import { buildBlock } from '../../../src/block/encoding.js'
import type { ClientMessage } from '../../../src/block/types.js'
import { compareBytes, toHex } from '../../../src/codec/bytes.js'
import { checkRewardsBlock } from '../../../src/rewards/block-check.js'
import { COMMITTEE, KEYS, memberReport, PARAMETERS } from '../contract/fixtures.js'

/** The rewards application's block rule, and what it need not check twice. */

const EPOCH = 7
const committee = new Set(COMMITTEE.members.map((m) => m.publicKey))
const sorted = (messages: ClientMessage[]): ClientMessage[] => [...messages].sort((a, b) => compareBytes(a.publicKey, b.publicKey))
const block = (messages: ClientMessage[]): Parameters<typeof checkRewardsBlock>[0] =>
  buildBlock({ round: EPOCH, creator: (KEYS[0] as (typeof KEYS)[number]).publicKey, height: 1, createdAt: 1, membershipId: new Uint8Array(32) }, messages)
/** A report whose signature no longer verifies (its data changed after signing). */
const forged = (m: ClientMessage): ClientMessage => {
  const data = Uint8Array.from(m.data)
  data[data.length - 1] = (data[data.length - 1] as number) ^ 1
  return { ...m, data }
}

describe('checkRewardsBlock', () => {
  const reports = sorted([0, 1, 2, 3].map((i) => memberReport(EPOCH, i)))
  const rules = { parameters: PARAMETERS, committee, threshold: 3 }

  it('accepts valid reports of distinct members, sorted, at the threshold; rejects a report that does not verify', () => {
    expect(checkRewardsBlock(block(reports), rules)).toEqual({ accept: true })
    const bad = [...reports]
    bad[1] = forged(bad[1] as ClientMessage)
    expect(checkRewardsBlock(block(bad), rules)).toMatchObject({ accept: false, reason: expect.stringContaining('message 1 is not a valid report') })
  })

  it('does not check again a report the node already checked (its pool holds that exact one), and checks the others', () => {
    const bad = [...reports]
    bad[1] = forged(bad[1] as ClientMessage)
    const seen = new Set<string>()
    const checked = (m: ClientMessage): boolean => { seen.add(toHex(m.publicKey)); return m === bad[1] }
    // the pool vouches for message 1: its signature is not verified again
    expect(checkRewardsBlock(block(bad), { ...rules, checked })).toEqual({ accept: true })
    expect(seen.size).toBe(4)
    // a message the pool does not vouch for is still checked in full
    bad[2] = forged(bad[2] as ClientMessage)
    expect(checkRewardsBlock(block(bad), { ...rules, checked })).toMatchObject({ accept: false, reason: expect.stringContaining('message 2 is not a valid report') })
  })

  it('still enforces one report per member, the order and the threshold for reports already checked', () => {
    const all = (): boolean => true
    expect(checkRewardsBlock(block([reports[0] as ClientMessage, reports[0] as ClientMessage, reports[1] as ClientMessage]), { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('second report by the same member') })
    expect(checkRewardsBlock(block([...reports].reverse()), { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('not sorted') })
    expect(checkRewardsBlock(block(reports.slice(0, 2)), { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('the threshold is 3') })
  })
})
