import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freeNodeName, nextPorts } from '../../../src/cli/init/join.js'
import { initNetwork, joinNetwork, peersOfCommittee } from '../../../src/config/generate.js'
import { loadContractConfig, loadNodeConfig, loadPeersFile } from '../../../src/config/index.js'
import { toHex } from '../../../src/codec/bytes.js'
import { NodeKey, readKeyFile } from '../../../src/crypto/keys.js'
import { membershipIdOf } from '../../../src/epochs/committee-chain.js'
import type { CommitteeJson } from '../../../src/epochs/record.js'
import { ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

/** `ephemera init`'s operator key and `init --join`'s files for one validator of an existing network. */

const keys = [1, 2, 3, 4].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i)))

function genesis (addresses: Array<string | undefined> = keys.map((_, i) => `/ip4/127.0.0.1/tcp/${7001 + 2 * i}`)): CommitteeJson {
  const members = keys.map((k, i) => ({
    name: `node${i + 1}`,
    peerId: k.peerId.toString(),
    publicKey: toHex(k.publicKey),
    ...(addresses[i] != null ? { multiaddrs: [addresses[i] as string] } : {})
  }))
  return { membershipId: membershipIdOf(members.map((m) => m.publicKey)), members }
}

describe('init: the operator key', () => {
  it('writes coordinator/admin.key (0600) and sets its public key as membership.admin_public_key', async () => {
    const out = join(await tempDir(), 'net')
    const result = await initNetwork({ nodes: 2, out, basePort: 7200 })
    expect(result.adminKeyFile).toBe(join(out, 'coordinator', 'admin.key'))
    expect((await stat(result.adminKeyFile)).mode & 0o777).toBe(0o600)
    const admin = await readKeyFile(result.adminKeyFile)
    expect(result.adminPublicKey).toBe(toHex(admin.publicKey))
    const config = await loadContractConfig(result.coordinatorConfig, { env: {} })
    expect(config.membership.admin_public_key).toBe(result.adminPublicKey)
    // the operator is no member
    expect(result.nodes.map((n) => n.peerId)).not.toContain(admin.peerId.toString())
    expect(await readFile(result.coordinatorConfig, 'utf8')).not.toContain('PRIVATE')
  })

  it('refuses to overwrite an operator key without --force, and replaces it with --force', async () => {
    const out = join(await tempDir(), 'net')
    const first = await initNetwork({ nodes: 1, out, basePort: 7220 })
    await expect(initNetwork({ nodes: 1, out, basePort: 7220 })).rejects.toMatchObject({ code: ErrorCode.ALREADY_EXISTS })
    const second = await initNetwork({ nodes: 1, out, basePort: 7220, force: true })
    expect(second.adminPublicKey).not.toBe(first.adminPublicKey)
  })
})

describe('init --join', () => {
  it('peersOfCommittee: name, PeerId and the first address without its /p2p part', () => {
    const committee = genesis()
    committee.members[1]!.multiaddrs = [`/ip4/10.0.0.2/tcp/4001/p2p/${keys[1]!.peerId.toString()}`, '/ip4/10.0.0.3/tcp/4001']
    expect(peersOfCommittee(committee)).toEqual([
      { name: 'node1', peerId: keys[0]!.peerId.toString(), address: '/ip4/127.0.0.1/tcp/7001' },
      { name: 'node2', peerId: keys[1]!.peerId.toString(), address: '/ip4/10.0.0.2/tcp/4001' },
      { name: 'node3', peerId: keys[2]!.peerId.toString(), address: '/ip4/127.0.0.1/tcp/7005' },
      { name: 'node4', peerId: keys[3]!.peerId.toString(), address: '/ip4/127.0.0.1/tcp/7007' }
    ])
  })

  it('peersOfCommittee: a member without an address, or with one that is not TCP, is a clear error', () => {
    expect(() => peersOfCommittee(genesis(['/ip4/127.0.0.1/tcp/7001', undefined, '/ip4/127.0.0.1/tcp/7005', '/ip4/127.0.0.1/tcp/7007'])))
      .toThrow(/genesis committee gives no address for node2 .*write the peers file by hand/)
    expect(() => peersOfCommittee(genesis(['/ip4/127.0.0.1/udp/7001', '/ip4/127.0.0.1/tcp/7003', '/ip4/127.0.0.1/tcp/7005', '/ip4/127.0.0.1/tcp/7007'])))
      .toThrow(/gives node1 the address "\/ip4\/127.0.0.1\/udp\/7001", not a TCP multiaddr/)
  })

  it('freeNodeName: the first nodeK not taken', () => {
    expect(freeNodeName(new Set())).toBe('node1')
    expect(freeNodeName(new Set(['node1', 'node2', 'node3', 'node4']))).toBe('node5')
    expect(freeNodeName(new Set(['node1', 'node3']))).toBe('node2')
  })

  it('nextPorts: init\'s layout after the highest port the coordinator knows', () => {
    // init --base-port 7000 --nodes 4: p2p 7001, 7003, 7005, 7007 (HTTP one above each)
    expect(nextPorts(['/ip4/127.0.0.1/tcp/7001', '/ip4/127.0.0.1/tcp/7007/p2p/x', '/ip4/127.0.0.1/tcp/7003'])).toEqual({ p2p: 7009, http: 7010 })
    expect(() => nextPorts(['/dns4/example.com/udp/1'])).toThrow(/give --base-port/)
    expect(() => nextPorts(['/ip4/127.0.0.1/tcp/65534'])).toThrow(/give --base-port/)
  })

  it('writes a key (0600), the genesis peers file and a config `node run` loads', async () => {
    const out = await tempDir()
    const result = await joinNetwork({ out, name: 'node5', coordinatorUrl: 'http://127.0.0.1:7000', genesis: genesis(), mixnodes: 250, p2pPort: 7009, httpPort: 7010 })
    const dir = join(out, 'node5')
    expect(result).toMatchObject({ dir, name: 'node5', configFile: join(dir, 'config.toml'), keyFile: join(dir, 'node.key'), peersFile: join(dir, 'peers.toml'), address: '/ip4/127.0.0.1/tcp/7009', httpUrl: 'http://127.0.0.1:7010', genesisMembers: 4 })
    expect((await stat(result.keyFile)).mode & 0o777).toBe(0o600)
    const key = await readKeyFile(result.keyFile)
    expect(key.peerId.toString()).toBe(result.peerId)
    expect(keys.map((k) => k.peerId.toString())).not.toContain(result.peerId)

    const config = await loadNodeConfig(result.configFile, { env: {} })
    expect(config).toMatchObject({
      name: 'node5', key_file: result.keyFile, peers_file: result.peersFile, data_dir: join(dir, 'data'),
      coordinator_url: 'http://127.0.0.1:7000', app: 'rewards', p2p: { listen: '/ip4/127.0.0.1/tcp/7009' }, rewards: { mixnodes: 250 }, http: { host: '127.0.0.1', port: 7010 }
    })
    expect(await loadPeersFile(result.peersFile)).toEqual(peersOfCommittee(genesis()))
  })

  it('refuses a name of a genesis member, a bad name, and overwriting without --force', async () => {
    const out = await tempDir()
    const opts = { out, name: 'node5', coordinatorUrl: 'http://127.0.0.1:7000', genesis: genesis(), mixnodes: 100, p2pPort: 7009, httpPort: 7010 }
    await expect(joinNetwork({ ...opts, name: 'node2' })).rejects.toThrow(/node2 is taken by a member of the genesis committee/)
    await expect(joinNetwork({ ...opts, name: '-x' })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT })
    await expect(joinNetwork({ ...opts, p2pPort: 80 })).rejects.toThrow(/ports must be integers from 1024 to 65535/)
    const first = await joinNetwork(opts)
    await expect(joinNetwork(opts)).rejects.toMatchObject({ code: ErrorCode.ALREADY_EXISTS })
    const forced = await joinNetwork({ ...opts, force: true })
    expect(forced.peerId).not.toBe(first.peerId)
  })
})
