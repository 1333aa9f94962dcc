import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { loadPeersFile, peersFileText, writePeersFile, type Member } from '../../../src/config/index.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { ConfigError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

function members (n: number): Member[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `node${i + 1}`,
    peerId: NodeKey.generate().peerId.toString(),
    address: `/ip4/127.0.0.1/tcp/${4001 + i}`
  }))
}

function entry (m: { name: string, peerId: string, address: string }): string {
  return `[[members]]\nname = "${m.name}"\npeer_id = "${m.peerId}"\naddress = "${m.address}"\n\n`
}

async function writePeers (text: string): Promise<string> {
  const file = join(await tempDir(), 'peers.toml')
  await writeFile(file, text)
  return file
}

async function loadError (file: string): Promise<ConfigError> {
  try {
    await loadPeersFile(file)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).not.toContain('\n')
    return err as ConfigError
  }
  throw new Error(`expected loading ${file} to fail`)
}

describe('loadPeersFile', () => {
  it('loads a valid file in order', async () => {
    const list = members(3)
    const file = await writePeers(list.map(entry).join(''))
    expect(await loadPeersFile(file)).toEqual(list)
  })

  it('accepts dns and ip6 TCP addresses', async () => {
    const [a, b] = members(2) as [Member, Member]
    const file = await writePeers(entry({ ...a, address: '/dns4/node-a.local/tcp/4001' }) + entry({ ...b, address: '/ip6/::1/tcp/4002' }))
    const loaded = await loadPeersFile(file)
    expect(loaded.map((m) => m.address)).toEqual(['/dns4/node-a.local/tcp/4001', '/ip6/::1/tcp/4002'])
  })

  it.each(['name', 'peerId', 'address'] as const)('reports a duplicate %s with its key path', async (field) => {
    const [a, b, c] = members(3) as [Member, Member, Member]
    const dup = { ...c, [field]: a[field] }
    const file = await writePeers([a, b, dup].map(entry).join(''))
    const err = await loadError(file)
    const key = field === 'peerId' ? 'peer_id' : field
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message).toBe(`${file}: key "members[2].${key}": duplicate of members[0].${key} "${a[field]}"`)
  })

  it('reports a duplicate at members[1]', async () => {
    const [a] = members(1) as [Member]
    const file = await writePeers(entry(a) + entry({ ...a, peerId: NodeKey.generate().peerId.toString(), address: '/ip4/127.0.0.1/tcp/5000' }))
    const err = await loadError(file)
    expect(err.message).toContain('key "members[1].name": duplicate of members[0].name "node1"')
  })

  it('rejects an invalid PeerId', async () => {
    const [a] = members(1) as [Member]
    const file = await writePeers(entry({ ...a, peerId: 'not-a-peer-id' }))
    const err = await loadError(file)
    expect(err.message).toMatch(/: key "members\[0\]\.peer_id": not a valid PeerId/)
    expect(err.message.startsWith(`${file}: `)).toBe(true)
  })

  it('rejects a non-TCP and a malformed multiaddr', async () => {
    const [a] = members(1) as [Member]
    const udp = await writePeers(entry({ ...a, address: '/ip4/127.0.0.1/udp/4001' }))
    expect((await loadError(udp)).message).toContain('key "members[0].address": must be a TCP multiaddr')
    const bad = await writePeers(entry({ ...a, address: '127.0.0.1:4001' }))
    expect((await loadError(bad)).message).toContain('key "members[0].address": not a valid multiaddr')
    const noPort = await writePeers(entry({ ...a, address: '/ip4/127.0.0.1' }))
    expect((await loadError(noPort)).message).toContain('key "members[0].address": must be a TCP multiaddr')
  })

  it('rejects an empty member list and a missing one', async () => {
    const empty = await writePeers('members = []\n')
    // the schema's own wording ('must list at least one member') is not used by the loader (see report)
    expect((await loadError(empty)).message).toMatch(new RegExp(`^${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: key "members": must .*at least (1|one)`))
    const missing = await writePeers('# nothing\n')
    expect((await loadError(missing)).message).toBe(`${missing}: key "members": required key is missing`)
  })

  it('rejects unknown keys in a member', async () => {
    const [a] = members(1) as [Member]
    const file = await writePeers(entry(a).trimEnd() + '\nport = 4001\n')
    expect((await loadError(file)).message).toContain('key "members[0].port": unknown key')
  })

  it('reports a missing file with ERR_CONFIG_NOT_FOUND', async () => {
    const file = join(await tempDir(), 'absent.toml')
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_NOT_FOUND)
  })
})

describe('peersFileText / writePeersFile', () => {
  it('round-trips through loadPeersFile', async () => {
    const list = members(5)
    const file = await writePeers(peersFileText(list))
    expect(await loadPeersFile(file)).toEqual(list)
  })

  it('writePeersFile writes a file loadPeersFile reads back', async () => {
    const list = members(2)
    const file = join(await tempDir(), 'sub', 'peers.toml')
    await writePeersFile(file, list)
    expect(await loadPeersFile(file)).toEqual(list)
  })

  it('refuses an empty member list', () => {
    expect(() => peersFileText([])).toThrow(ConfigError)
  })
})
