import { describe, expect, it } from 'vitest'
import { RbcMachine, thresholds, type Effect } from '../../../src/broadcast/machine.js'
import { toHex } from '../../../src/codec/bytes.js'
import type { NodeKey } from '../../../src/crypto/keys.js'
import { echoMsg, proposal, rbcCrypto, readyMsg, testKeys } from '../../helpers/rbc-fixtures.js'

/**
 * The state machine with a committee per round (a living committee): who may propose and vote,
 * and the thresholds, are those of each round's committee; a node outside a round's committee
 * neither votes nor keeps state for it.
 */

const keys = testKeys(6)
const [a, b, c, d, e] = keys as [NodeKey, NodeKey, NodeKey, NodeKey, NodeKey]
/** round 1: a b c d (q = 3); round 2 on: a b c d e (q = 4). */
const committeeOf = (round: number): NodeKey[] => round === 1 ? [a, b, c, d] : [a, b, c, d, e]
const machineOf = (self: NodeKey): RbcMachine => new RbcMachine({
  members: [a, b, c, d].map((k) => k.publicKey),
  committees: (round) => {
    const hex = new Set(committeeOf(round).map((k) => toHex(k.publicKey)))
    return { hex, ...thresholds(hex.size) }
  },
  self: self.publicKey,
  crypto: rbcCrypto(self)
})
const delivered = (effects: Effect[]): boolean => effects.some((x) => x.type === 'deliver')

describe('a committee per round', () => {
  it('a member admitted from round 2 is refused in round 1 and counts in round 2', () => {
    const m = machineOf(a)
    const p1 = proposal(committeeOf(1), b, 1)
    m.receive(b.publicKey, p1.message)
    expect(m.receive(e.publicKey, echoMsg(1, b.publicKey, p1.hash))).toEqual([expect.objectContaining({ type: 'reject', reason: expect.stringMatching(/not in the committee of round 1/) })])
    const p2 = proposal(committeeOf(2), e, 2)
    const effects = m.receive(e.publicKey, p2.message)
    expect(effects.some((x) => x.type === 'broadcast' && x.message.type === 'echo')).toBe(true)
  })

  it('the thresholds are the round\'s: 3 READYs deliver in round 1 (n = 4), 4 are needed in round 2 (n = 5)', () => {
    const m = machineOf(a)
    const p1 = proposal(committeeOf(1), b, 1)
    m.receive(b.publicKey, p1.message)
    let out: Effect[] = []
    for (const k of [b, c]) out = m.receive(k.publicKey, readyMsg(k, 1, b.publicKey, p1.hash))
    expect(delivered(out)).toBe(true) // a's own READY (amplified after f + 1 = 2) is the third
    const p2 = proposal(committeeOf(2), b, 2)
    m.receive(b.publicKey, p2.message)
    out = []
    for (const k of [b, c]) out = m.receive(k.publicKey, readyMsg(k, 2, b.publicKey, p2.hash))
    expect(delivered(out)).toBe(false)
    out = m.receive(d.publicKey, readyMsg(d, 2, b.publicKey, p2.hash))
    expect(delivered(out)).toBe(true)
  })

  it('a node outside a round\'s committee neither votes nor keeps state for it', () => {
    const m = machineOf(e)
    const p1 = proposal(committeeOf(1), b, 1)
    expect(m.receive(b.publicKey, p1.message)).toEqual([])
    expect(m.wantsProposal(1, b.publicKey, p1.hash)).toBe(false)
    expect(m.openInstances).toBe(0)
    const p2 = proposal(committeeOf(2), b, 2)
    expect(m.receive(b.publicKey, p2.message).some((x) => x.type === 'persist-vote')).toBe(true)
  })
})

describe('READY equivocation', () => {
  it('a member signing READY for two hashes of one instance yields both signed statements once, as evidence', () => {
    const m = machineOf(a)
    const p1 = proposal(committeeOf(1), b, 1)
    const p2 = proposal(committeeOf(1), b, 1, 2000)
    m.receive(b.publicKey, p1.message)
    m.receive(c.publicKey, readyMsg(c, 1, b.publicKey, p1.hash))
    const effects = m.receive(c.publicKey, readyMsg(c, 1, b.publicKey, p2.hash))
    const evidence = effects.filter((x) => x.type === 'ready-equivocation')
    expect(evidence).toHaveLength(1)
    const e = evidence[0] as Extract<Effect, { type: 'ready-equivocation' }>
    expect([toHex(e.signer), toHex(e.first.hash), toHex(e.second.hash)]).toEqual([toHex(c.publicKey), toHex(p1.hash), toHex(p2.hash)])
    expect(m.receive(c.publicKey, readyMsg(c, 1, b.publicKey, p2.hash)).some((x) => x.type === 'ready-equivocation')).toBe(false)
    // the same READY again is no conflict
    expect(m.receive(c.publicKey, readyMsg(c, 1, b.publicKey, p1.hash)).some((x) => x.type === 'ready-equivocation')).toBe(false)
  })
})
