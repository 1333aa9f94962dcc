import { access, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { hostSlots, initNetwork, nodePorts, type InitOptions } from '../../../src/config/generate.js'
import { loadContractConfig } from '../../../src/config/contract.js'
import { loadNodeConfig, loadPeersFile } from '../../../src/config/index.js'
import { readKeyFile } from '../../../src/crypto/keys.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

async function initError (opts: InitOptions): Promise<EphemeraError> {
  try {
    await initNetwork(opts)
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    return err as EphemeraError
  }
  throw new Error(`expected initNetwork(${JSON.stringify(opts)}) to fail`)
}

describe('initNetwork', () => {
  it('writes peers.toml and a loadable config and 0600 key per node', async () => {
    const out = join(await tempDir(), 'net')
    const base = 7100
    const result = await initNetwork({ nodes: 3, out, basePort: base })

    expect(result.dir).toBe(out)
    expect(result.peersFile).toBe(join(out, 'peers.toml'))
    expect(result.coordinatorUrl).toBe(`http://127.0.0.1:${base}`)
    expect(result.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3'])

    const members = await loadPeersFile(result.peersFile)
    expect(members).toEqual(result.nodes.map((n) => ({ name: n.name, peerId: n.peerId, address: n.address })))

    for (const [index, node] of result.nodes.entries()) {
      const k = index + 1
      const nodeDir = join(out, `node${k}`)
      expect(node.configFile).toBe(join(nodeDir, 'config.toml'))
      expect(node.keyFile).toBe(join(nodeDir, 'node.key'))
      expect((await stat(node.keyFile)).mode & 0o777).toBe(0o600)

      // port layout: coordinator BASE, node k p2p BASE+2k-1, http BASE+2k
      expect(node.address).toBe(`/ip4/127.0.0.1/tcp/${base + 2 * k - 1}`)
      expect(node.httpUrl).toBe(`http://127.0.0.1:${base + 2 * k}`)
      expect(nodePorts(base, index)).toEqual({ p2p: base + 2 * k - 1, http: base + 2 * k })

      const config = await loadNodeConfig(node.configFile, { env: {} })
      expect(config.name).toBe(node.name)
      expect(config.key_file).toBe(node.keyFile)
      expect(config.peers_file).toBe(result.peersFile)
      expect(config.data_dir).toBe(join(nodeDir, 'data'))
      expect(config.coordinator_url).toBe(result.coordinatorUrl)
      expect(config.p2p.listen).toBe(node.address)
      expect(config.http).toMatchObject({ host: '127.0.0.1', port: base + 2 * k })
      expect(await loadPeersFile(config.peers_file)).toEqual(members)

      const key = await readKeyFile(config.key_file)
      expect(key.peerId.toString()).toBe(node.peerId)
    }

    const peerIds = new Set(result.nodes.map((n) => n.peerId))
    expect(peerIds.size).toBe(3)
    const ports = result.nodes.flatMap((n) => [n.address, n.httpUrl])
    expect(new Set(ports).size).toBe(6)
  })

  it('writes the cluster marker last, naming the app and the members', async () => {
    const out = join(await tempDir(), 'net')
    const before = Date.now()
    const result = await initNetwork({ nodes: 2, out, basePort: 7150, app: 'messages' })
    expect(result.markerFile).toBe(join(out, '.ephemera-cluster.json'))
    const marker = JSON.parse(await readFile(result.markerFile, 'utf8')) as Record<string, unknown>
    expect(marker).toEqual({ kind: 'ephemera-cluster', version: 1, createdAt: expect.any(String), app: 'messages', nodes: ['node1', 'node2'] })
    expect(Date.parse(marker.createdAt as string)).toBeGreaterThanOrEqual(before - 1000)
    // the last file written: its mtime is not older than any other's
    const markerTime = (await stat(result.markerFile)).mtimeMs
    for (const file of [result.peersFile, result.coordinatorConfig, ...result.nodes.flatMap((n) => [n.keyFile, n.configFile])]) {
      expect((await stat(file)).mtimeMs).toBeLessThanOrEqual(markerTime)
    }
  })

  it('uses the given host for every address and URL', async () => {
    const out = await tempDir()
    const result = await initNetwork({ nodes: 1, out, basePort: 7200, host: '127.0.0.2' })
    expect(result.coordinatorUrl).toBe('http://127.0.0.2:7200')
    expect(result.nodes[0]?.address).toBe('/ip4/127.0.0.2/tcp/7201')
    const config = await loadNodeConfig(result.nodes[0]?.configFile as string, { env: {} })
    expect(config.http.host).toBe('127.0.0.2')
  })

  it('nodes on machines of their own (--node-hosts, --coordinator-host): each listens on and is listed at its address, with the same ports', async () => {
    const out = await tempDir()
    const hosts = ['10.231.7.11', '10.231.7.12', '10.231.7.13']
    const result = await initNetwork({ nodes: 3, out, basePort: 7000, nodeHosts: hosts, coordinatorHost: '10.231.7.10' })
    expect(result.coordinatorUrl).toBe('http://10.231.7.10:7000')
    const coordinator = await loadContractConfig(result.coordinatorConfig, { env: {} })
    expect(coordinator.http).toMatchObject({ host: '10.231.7.10', port: 7000 })
    const members = await loadPeersFile(result.peersFile)
    for (const [i, node] of result.nodes.entries()) {
      expect(node.address).toBe(`/ip4/${hosts[i] as string}/tcp/7001`)
      expect(node.httpUrl).toBe(`http://${hosts[i] as string}:7002`)
      expect(members[i]?.address).toBe(node.address)
      const config = await loadNodeConfig(node.configFile, { env: {} })
      expect(config.p2p.listen).toBe(node.address)
      expect(config.http).toMatchObject({ host: hosts[i], port: 7002 })
      expect(config.coordinator_url).toBe('http://10.231.7.10:7000')
    }
  })

  it('numbers ports per host: nodes sharing a host get successive pairs', async () => {
    expect(hostSlots(['a', 'b', 'a', 'c', 'a', 'b'])).toEqual([0, 0, 1, 0, 2, 1])
    const out = await tempDir()
    const result = await initNetwork({ nodes: 3, out, basePort: 7600, nodeHosts: ['10.0.0.2', '10.0.0.3', '10.0.0.2'] })
    expect(result.coordinatorUrl).toBe('http://127.0.0.1:7600')
    expect(result.nodes.map((n) => n.address)).toEqual(['/ip4/10.0.0.2/tcp/7601', '/ip4/10.0.0.3/tcp/7601', '/ip4/10.0.0.2/tcp/7603'])
  })

  it('refuses to overwrite without force and leaves every file byte-identical', async () => {
    const out = await tempDir()
    const first = await initNetwork({ nodes: 2, out, basePort: 7300 })
    const files = [first.peersFile, ...first.nodes.flatMap((n) => [n.keyFile, n.configFile])]
    const before = await Promise.all(files.map(async (f) => await readFile(f)))

    const err = await initError({ nodes: 2, out, basePort: 7400 })
    expect(err.code).toBe(ErrorCode.ALREADY_EXISTS)
    expect(err.message).toContain('already exists')
    expect(err.message).toContain('--force')

    const after = await Promise.all(files.map(async (f) => await readFile(f)))
    for (const [i, content] of after.entries()) expect(content.equals(before[i] as Buffer)).toBe(true)
  })

  it('refuses when only one node key exists (e.g. a larger network over a smaller one)', async () => {
    const out = await tempDir()
    const first = await initNetwork({ nodes: 1, out, basePort: 7300 })
    const keyBefore = await readFile(first.nodes[0]?.keyFile as string)
    await rm(first.peersFile) // even without the peers file, node1's key and config block it
    await expect(initNetwork({ nodes: 3, out, basePort: 7300 })).rejects.toMatchObject({ code: ErrorCode.ALREADY_EXISTS })
    expect((await readFile(first.nodes[0]?.keyFile as string)).equals(keyBefore)).toBe(true)
    expect(await exists(join(out, 'node2'))).toBe(false)
  })

  it('with force replaces the keys and deletes the nodes\' data directories', async () => {
    const out = await tempDir()
    const first = await initNetwork({ nodes: 2, out, basePort: 7500 })
    const dataFile = join(out, 'node1', 'data', 'db', 'CURRENT')
    await mkdir(join(out, 'node1', 'data', 'db'), { recursive: true })
    await writeFile(dataFile, 'old')
    const keyBefore = await readFile(first.nodes[0]?.keyFile as string)

    const second = await initNetwork({ nodes: 2, out, basePort: 7500, force: true })
    expect(await exists(join(out, 'node1', 'data'))).toBe(false)
    expect((await readFile(second.nodes[0]?.keyFile as string)).equals(keyBefore)).toBe(false)
    for (const [i, node] of second.nodes.entries()) {
      expect(node.peerId).not.toBe(first.nodes[i]?.peerId)
      expect((await readKeyFile(node.keyFile)).peerId.toString()).toBe(node.peerId)
      expect((await stat(node.keyFile)).mode & 0o777).toBe(0o600)
    }
    expect((await loadPeersFile(second.peersFile)).map((m) => m.peerId)).toEqual(second.nodes.map((n) => n.peerId))
  })

  it.each([
    ['0 nodes', { nodes: 0 }],
    ['201 nodes', { nodes: 201 }],
    ['a fractional node count', { nodes: 2.5 }],
    ['a base port too high for 3 nodes', { nodes: 3, basePort: 65530 }],
    ['a base port below 1024', { nodes: 1, basePort: 80 }],
    ['a fractional base port', { nodes: 1, basePort: 7000.5 }],
    ['a hostname', { nodes: 1, host: 'localhost' }],
    ['an IPv6 host', { nodes: 1, host: '::1' }],
    ['the unspecified host', { nodes: 1, host: '0.0.0.0' }],
    ['fewer node hosts than nodes', { nodes: 2, nodeHosts: ['10.0.0.2'] }],
    ['a node host that is not IPv4', { nodes: 2, nodeHosts: ['10.0.0.2', 'node2.example'] }],
    ['an unspecified node host', { nodes: 1, nodeHosts: ['0.0.0.0'] }],
    ['an unspecified coordinator host', { nodes: 1, coordinatorHost: '0.0.0.0' }],
    ['a base port too high for 2 nodes on one host', { nodes: 3, basePort: 65532, nodeHosts: ['10.0.0.2', '10.0.0.3', '10.0.0.2'] }]
  ] as Array<[string, Partial<InitOptions>]>)('rejects %s with ERR_INVALID_ARGUMENT and writes nothing', async (_what, opts) => {
    const out = join(await tempDir(), 'net')
    const err = await initError({ nodes: 1, basePort: 7000, ...opts, out })
    expect(err.code).toBe(ErrorCode.INVALID_ARGUMENT)
    expect(await exists(out)).toBe(false)
  })

  it('accepts a base port that fits one pair per host', async () => {
    const out = await tempDir()
    const result = await initNetwork({ nodes: 3, out, basePort: 65533, nodeHosts: ['10.0.0.2', '10.0.0.3', '10.0.0.4'] })
    expect(result.nodes.map((n) => n.httpUrl)).toEqual(['http://10.0.0.2:65535', 'http://10.0.0.3:65535', 'http://10.0.0.4:65535'])
  })

  it('accepts the highest base port that fits', async () => {
    const out = await tempDir()
    const result = await initNetwork({ nodes: 3, out, basePort: 65529 })
    expect(result.nodes[2]?.httpUrl).toBe('http://127.0.0.1:65535')
  })
})
