import { describe, it, expect } from 'vitest'
import { Membership } from '../../../src/network/membership.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import type { Member } from '../../../src/config/index.js'

function members (n: number): Member[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `node${i + 1}`,
    peerId: NodeKey.generate().peerId.toString(),
    address: `/ip4/127.0.0.1/tcp/${4001 + i}`
  }))
}

// n = 10 needs at most 10 keys; generate them once
const pool = members(10)

describe('Membership', () => {
  const expected: Record<number, { f: number, q: number }> = {
    1: { f: 0, q: 1 },
    2: { f: 0, q: 2 },
    3: { f: 0, q: 3 },
    4: { f: 1, q: 3 },
    5: { f: 1, q: 4 },
    6: { f: 1, q: 5 },
    7: { f: 2, q: 5 },
    8: { f: 2, q: 6 },
    9: { f: 2, q: 7 },
    10: { f: 3, q: 7 }
  }

  it.each(Object.keys(expected).map(Number))('quorum math for n = %i', (n) => {
    const list = pool.slice(0, n)
    const m = new Membership(list, (list[n - 1] as Member).peerId)
    const f = m.maxFaulty
    const q = m.quorum
    expect(m.size).toBe(n)
    expect(f).toBe(Math.floor((n - 1) / 3))
    expect({ f, q }).toEqual(expected[n])
    expect(q).toBe(n - f)
    expect(q + f).toBe(n)
    // n >= 3f + 1: the set tolerates f faults
    expect(n).toBeGreaterThanOrEqual(3 * f + 1)
    // any two quorums intersect in at least f + 1 members, so at least one honest member
    expect(2 * q - n).toBeGreaterThanOrEqual(f + 1)
    // a quorum is reachable with f members down
    expect(n - f).toBeGreaterThanOrEqual(q)
  })

  it('others excludes self and keeps the order of the rest', () => {
    const list = pool.slice(0, 4)
    const self = list[1] as Member
    const m = new Membership(list, self.peerId)
    expect(m.self).toEqual(self)
    expect(m.others).toEqual([list[0], list[2], list[3]])
    expect(m.others.some((o) => o.peerId === self.peerId)).toBe(false)
  })

  it('answers isMember and get by PeerId', () => {
    const list = pool.slice(0, 3)
    const m = new Membership(list, (list[0] as Member).peerId)
    expect(m.isMember((list[2] as Member).peerId)).toBe(true)
    expect(m.get((list[2] as Member).peerId)).toEqual(list[2])
    const outsider = NodeKey.generate().peerId.toString()
    expect(m.isMember(outsider)).toBe(false)
    expect(m.get(outsider)).toBeUndefined()
  })

  it('is not affected by later changes to the input array', () => {
    const list = pool.slice(0, 3)
    const m = new Membership(list, (list[0] as Member).peerId)
    list.push(pool[5] as Member)
    expect(m.size).toBe(3)
    expect(Object.isFrozen(m.members)).toBe(true)
  })

  it('throws ERR_NOT_A_MEMBER when self is not listed', () => {
    const outsider = NodeKey.generate().peerId.toString()
    let caught: unknown
    try {
      void new Membership(pool.slice(0, 4), outsider)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(EphemeraError)
    expect((caught as EphemeraError).code).toBe(ErrorCode.NOT_A_MEMBER)
    expect((caught as EphemeraError).message).toContain(outsider)
  })
})
