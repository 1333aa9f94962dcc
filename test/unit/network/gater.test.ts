import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { describe, it, expect } from 'vitest'
import { membershipGater, type RefusalStats } from '../../../src/network/gater.js'
import { Membership } from '../../../src/network/membership.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import type { Member } from '../../../src/config/index.js'

interface LogLine {
  level: number
  msg: string
  peer: string
  direction: string
  remote?: string
  suppressedSinceLast: number
}

function setup (): {
  gater: ReturnType<typeof membershipGater>
  stats: RefusalStats
  lines: LogLine[]
  clock: { now: number }
  memberIds: PeerId[]
} {
  const keys = [NodeKey.generate(), NodeKey.generate(), NodeKey.generate()]
  const members: Member[] = keys.map((k, i) => ({ name: `node${i + 1}`, peerId: k.peerId.toString(), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))
  const membership = new Membership(members, members[0]?.peerId as string)
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write (line: string) { lines.push(JSON.parse(line) as LogLine) } })
  const stats: RefusalStats = { refused: 0 }
  const clock = { now: 1_700_000_000_000 }
  const gater = membershipGater(membership, logger, stats, () => clock.now)
  return { gater, stats, lines, clock, memberIds: keys.map((k) => k.peerId) }
}

function conn (addr: string): MultiaddrConnection {
  return { remoteAddr: multiaddr(addr) } as unknown as MultiaddrConnection
}

describe('membershipGater', () => {
  it('allows members in both directions and for dialling', async () => {
    const { gater, stats, lines, memberIds } = setup()
    for (const id of memberIds) {
      expect(await gater.denyDialPeer?.(id)).toBe(false)
      expect(await gater.denyInboundEncryptedConnection?.(id, conn('/ip4/127.0.0.1/tcp/5000'))).toBe(false)
      expect(await gater.denyOutboundEncryptedConnection?.(id, conn('/ip4/127.0.0.1/tcp/5000'))).toBe(false)
    }
    expect(stats.refused).toBe(0)
    expect(stats.lastPeerId).toBeUndefined()
    expect(lines).toHaveLength(0)
  })

  it('refuses non-members inbound, outbound and for dialling, and counts refusals', async () => {
    const { gater, stats, lines, clock } = setup()
    const outsider = NodeKey.generate().peerId
    const other = NodeKey.generate().peerId
    expect(await gater.denyDialPeer?.(outsider)).toBe(true)
    expect(stats.refused).toBe(0) // a denied dial is not a refused connection

    expect(await gater.denyInboundEncryptedConnection?.(outsider, conn('/ip4/10.0.0.1/tcp/5000'))).toBe(true)
    expect(stats.refused).toBe(1)
    expect(stats.lastPeerId).toBe(outsider.toString())
    expect(stats.lastAt).toBe(new Date(clock.now).toISOString())

    clock.now += 1000
    expect(await gater.denyOutboundEncryptedConnection?.(other, conn('/ip4/10.0.0.2/tcp/5001'))).toBe(true)
    expect(stats.refused).toBe(2)
    expect(stats.lastPeerId).toBe(other.toString())
    expect(stats.lastAt).toBe(new Date(clock.now).toISOString())

    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ level: 40, msg: 'refused connection from non-member', peer: outsider.toString(), direction: 'inbound', remote: '/ip4/10.0.0.1/tcp/5000', suppressedSinceLast: 0 })
    expect(lines[1]).toMatchObject({ peer: other.toString(), direction: 'outbound', remote: '/ip4/10.0.0.2/tcp/5001' })
  })

  it('logs a refused peer at most once per 30 s, then reports how many were suppressed', async () => {
    const { gater, stats, lines, clock } = setup()
    const outsider = NodeKey.generate().peerId
    const refuse = async (): Promise<void> => {
      expect(await gater.denyInboundEncryptedConnection?.(outsider, conn('/ip4/10.0.0.1/tcp/5000'))).toBe(true)
    }
    await refuse()
    expect(lines).toHaveLength(1)
    for (let i = 0; i < 5; i++) {
      clock.now += 5_000 // up to 25 s after the first log
      await refuse()
    }
    clock.now += 4_999 // 29.999 s
    await refuse()
    expect(lines).toHaveLength(1)
    expect(stats.refused).toBe(7)

    clock.now += 1 // exactly 30 s after the first log
    await refuse()
    expect(lines).toHaveLength(2)
    expect(lines[1]?.suppressedSinceLast).toBe(6)
    expect(stats.refused).toBe(8)

    // the window restarts at the second log
    clock.now += 10_000
    await refuse()
    expect(lines).toHaveLength(2)
    clock.now += 20_000
    await refuse()
    expect(lines).toHaveLength(3)
    expect(lines[2]?.suppressedSinceLast).toBe(1)
  })

  it('rate-limits each refused peer separately', async () => {
    const { gater, lines } = setup()
    const a = NodeKey.generate().peerId
    const b = NodeKey.generate().peerId
    await gater.denyInboundEncryptedConnection?.(a, conn('/ip4/10.0.0.1/tcp/5000'))
    await gater.denyInboundEncryptedConnection?.(a, conn('/ip4/10.0.0.1/tcp/5000'))
    await gater.denyInboundEncryptedConnection?.(b, conn('/ip4/10.0.0.2/tcp/5000'))
    expect(lines.map((l) => l.peer)).toEqual([a.toString(), b.toString()])
  })
})
