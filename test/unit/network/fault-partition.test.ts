import { writeFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { PartitionSwitch, parsePartitionFile } from '../../../src/network/fault-partition.js'
import { membershipGater, type RefusalStats } from '../../../src/network/gater.js'
import { Membership } from '../../../src/network/membership.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { loadNodeConfig, type Member } from '../../../src/config/index.js'
import type { Logger } from '../../../src/util/logger.js'
import { tempDir } from '../tmp.js'
import { memberNetworks, until } from './hosts.js'

/** The test-only partition switch (p2p.fault_partition_file) used by the perturbation suite. */

interface LogLine { level: number, msg: string, blocked?: string[], cut?: string[], healed?: string[] }

function capture (): { logger: Logger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'debug' }, { write (line: string) { lines.push(JSON.parse(line) as LogLine) } })
  return { logger, lines }
}

describe('parsePartitionFile', () => {
  it('reads one PeerId per line, ignoring blank lines, spaces and # comments', () => {
    expect([...parsePartitionFile('')]).toEqual([])
    expect([...parsePartitionFile('\n  \n# nothing\n')]).toEqual([])
    expect([...parsePartitionFile('12D3KooWa\n  12D3KooWb  # node2\n12D3KooWa\n')]).toEqual(['12D3KooWa', '12D3KooWb'])
  })
})

describe('PartitionSwitch', () => {
  it('applies the file on start and on each change, tells listeners what was cut and healed, and logs each change once', async () => {
    const { logger, lines } = capture()
    let content: string | undefined
    const names: Record<string, string> = { A: 'node2', B: 'node3' }
    const sw = new PartitionSwitch({ file: '/x', pollMs: 60_000 }, { logger, name: (p) => names[p], read: async () => content })
    const changes: Array<{ added: string[], removed: string[] }> = []
    sw.onChange(({ added, removed }) => changes.push({ added, removed }))

    await sw.start() // absent file: no partition
    expect(sw.blocked.size).toBe(0)
    expect(changes).toEqual([])

    content = 'A\nB\n'
    await sw.poll()
    expect(sw.isBlocked('A') && sw.isBlocked('B')).toBe(true)
    await sw.poll() // unchanged: nothing new
    await sw.poll()
    content = 'B\n'
    await sw.poll()
    expect(sw.isBlocked('A')).toBe(false)
    content = ''
    await sw.poll()
    expect(sw.blocked.size).toBe(0)
    await sw.stop()

    expect(changes).toEqual([{ added: ['A', 'B'], removed: [] }, { added: [], removed: ['A'] }, { added: [], removed: ['B'] }])
    const faultLines = lines.filter((l) => l.msg.startsWith('TEST FAULT'))
    expect(faultLines.map((l) => l.msg)).toEqual([
      'TEST FAULT MODE: network partition switch enabled (p2p.fault_partition_file)',
      'TEST FAULT: partition changed',
      'TEST FAULT: partition changed',
      'TEST FAULT: partition healed'
    ])
    expect(faultLines[1]).toMatchObject({ level: 40, blocked: ['node2', 'node3'], cut: ['node2', 'node3'], healed: [] })
    expect(faultLines[2]).toMatchObject({ blocked: ['node3'], healed: ['node2'] })
  })

  it('keeps the current partition when the file cannot be read, and says so once', async () => {
    const { logger, lines } = capture()
    let fail = false
    const sw = new PartitionSwitch({ file: '/x', pollMs: 60_000 }, { logger, read: async () => { if (fail) throw new Error('EACCES'); return 'A\n' } })
    await sw.start()
    fail = true
    await sw.poll()
    await sw.poll()
    expect(sw.isBlocked('A')).toBe(true)
    expect(lines.filter((l) => l.msg.startsWith('cannot read the partition file'))).toHaveLength(1)
    await sw.stop()
  })
})

describe('membershipGater with a partition', () => {
  it('refuses cut-off members in both directions and for dialling, without counting them as non-members', async () => {
    const keys = [NodeKey.generate(), NodeKey.generate(), NodeKey.generate()]
    const members: Member[] = keys.map((k, i) => ({ name: `node${i + 1}`, peerId: k.peerId.toString(), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))
    const membership = new Membership(members, members[0]!.peerId)
    const { logger, lines } = capture()
    const stats: RefusalStats = { refused: 0 }
    const cut = new Set<string>([members[1]!.peerId])
    const gater = membershipGater(membership, logger, stats, Date.now, (p) => cut.has(p))
    const conn = { remoteAddr: multiaddr('/ip4/127.0.0.1/tcp/5000') } as unknown as MultiaddrConnection
    const [, cutOff, fine] = keys.map((k) => k.peerId)
    expect(await gater.denyDialPeer?.(cutOff!)).toBe(true)
    expect(await gater.denyInboundEncryptedConnection?.(cutOff!, conn)).toBe(true)
    expect(await gater.denyOutboundEncryptedConnection?.(cutOff!, conn)).toBe(true)
    expect(await gater.denyDialPeer?.(fine!)).toBe(false)
    expect(await gater.denyInboundEncryptedConnection?.(fine!, conn)).toBe(false)
    cut.clear()
    expect(await gater.denyDialPeer?.(cutOff!)).toBe(false)
    expect(await gater.denyInboundEncryptedConnection?.(cutOff!, conn)).toBe(false)
    expect(stats.refused).toBe(0)
    expect(lines).toHaveLength(0)
  })
})

describe('p2p.fault_partition_file', () => {
  it('is off by default and resolves a relative path against the config file', async () => {
    const dir = await tempDir()
    const file = join(dir, 'config.toml')
    await writeFile(file, 'name = "node1"\nkey_file = "node.key"\npeers_file = "peers.toml"\n')
    expect((await loadNodeConfig(file, { env: {} })).p2p.fault_partition_file).toBeUndefined()
    await writeFile(file, 'name = "node1"\nkey_file = "node.key"\npeers_file = "peers.toml"\n[p2p]\nfault_partition_file = ""\n')
    expect((await loadNodeConfig(file, { env: {} })).p2p.fault_partition_file).toBeUndefined()
    await writeFile(file, 'name = "node1"\nkey_file = "node.key"\npeers_file = "peers.toml"\n[p2p]\nfault_partition_file = "cut.txt"\n')
    expect((await loadNodeConfig(file, { env: {} })).p2p.fault_partition_file).toBe(join(dir, 'cut.txt'))
    expect((await loadNodeConfig(file, { env: {}, set: ['p2p.fault_partition_file=/tmp/other.txt'] })).p2p.fault_partition_file).toBe('/tmp/other.txt')
  })
})

describe('Network with a partition file (two real libp2p hosts)', () => {
  it('hangs up on a listed member, keeps it out in both directions, and reconnects once the line is removed', async () => {
    const dir = await tempDir()
    const files = [join(dir, 'node1.cut'), join(dir, 'node2.cut')]
    const { logger, lines } = capture()
    const { members, networks } = await memberNetworks(2, (i) => ({
      initialBackoffMs: 50,
      maxBackoffMs: 200,
      dialTimeoutMs: 2_000,
      gossipHeartbeatMs: 700,
      // only node1 has the switch: the partition must hold in both directions all the same
      faultPartitionFile: i === 0 ? files[0] : undefined
    }), (i) => logger.child({ node: i + 1 }))
    const connected = (i: number): boolean => networks[i]!.groupInfo().connected === 1
    try {
      await Promise.all(networks.map(async (n) => { await n.start() }))
      await until(() => connected(0) && connected(1), 10_000, 'the two hosts to connect')

      await writeFile(files[0]!, `${members[1]!.peerId}\n`)
      await until(() => !connected(0) && !connected(1), 5_000, 'the partition to cut the connection')
      // node2 keeps re-dialling node1 (every ≤ 200 ms here); node1 refuses it, right after the
      // handshake, for two whole seconds: node1 never has a connection, and each attempt of
      // node2 is closed at once (its dial may look open for the moment the refusal takes)
      const firstSeen = new Map<string, number>()
      const deadline = Date.now() + 2_000
      while (Date.now() < deadline) {
        expect(networks[0]!.connections()).toEqual([])
        for (const c of networks[1]!.connections()) {
          const seen = firstSeen.get(c.openedAt) ?? Date.now()
          firstSeen.set(c.openedAt, seen)
          expect(Date.now() - seen, 'a connection across the partition lasts').toBeLessThan(1_000)
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(networks[0]!.groupInfo().refusedNonMembers.refused).toBe(0)

      await rm(files[0]!)
      await until(() => connected(0) && connected(1), 10_000, 'the link to heal')
      const changes = lines.filter((l) => l.msg.startsWith('TEST FAULT: partition'))
      expect(changes.map((l) => l.msg)).toEqual(['TEST FAULT: partition changed', 'TEST FAULT: partition healed'])
    } finally {
      await Promise.all(networks.map(async (n) => { await n.stop() }))
    }
  }, 30_000)
})
