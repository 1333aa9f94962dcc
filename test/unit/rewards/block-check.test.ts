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
/** A report whose signature does not verify. */
const forged = (m: ClientMessage): ClientMessage => {
  const signature = Uint8Array.from(m.signature)
  signature[0] = (signature[0] as number) ^ 1
  return { ...m, signature }
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

  it('does not verify again the signature of a report the node already checked (its pool holds that exact one), and verifies the others', () => {
    const bad = [...reports]
    bad[1] = forged(bad[1] as ClientMessage)
    const seen = new Set<string>()
    const checked = (m: ClientMessage): boolean => { seen.add(toHex(m.publicKey)); return m === bad[1] }
    // the pool vouches for message 1: its signature is not verified again (here it would fail)
    expect(checkRewardsBlock(block(bad), { ...rules, checked })).toEqual({ accept: true })
    expect(seen.size).toBe(4)
    // a message the pool does not vouch for is still checked in full
    bad[2] = forged(bad[2] as ClientMessage)
    expect(checkRewardsBlock(block(bad), { ...rules, checked })).toMatchObject({ accept: false, reason: expect.stringContaining('message 2 is not a valid report') })
  })

  it('still checks everything but the signature of reports already checked: committee, epoch, one per member, order, threshold', () => {
    const all = (): boolean => true
    // the committee of the moment: a member no longer in it (e.g. banned since) is refused
    const without = new Set([...committee].filter((k) => k !== toHex((reports[0] as ClientMessage).publicKey)))
    expect(checkRewardsBlock(block(reports), { ...rules, committee: without, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('not in the committee') })
    expect(checkRewardsBlock({ ...block(reports), header: { ...block(reports).header, round: EPOCH + 1 } }, { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining(`expected ${EPOCH + 1}`) })
    expect(checkRewardsBlock(block([reports[0] as ClientMessage, reports[0] as ClientMessage, reports[1] as ClientMessage]), { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('second report by the same member') })
    expect(checkRewardsBlock(block([...reports].reverse()), { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('not sorted') })
    expect(checkRewardsBlock(block(reports.slice(0, 2)), { ...rules, checked: all })).toMatchObject({ accept: false, reason: expect.stringContaining('the threshold is 3') })
  })
})
