import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killTracked, runCli, startCli, waitForExit } from '../helpers/cli.js'
import { freePortBlock, getJson, isRunning, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'
import { PROCESS_ENV, PROCESS_NODE_OPTIONS } from '../../src/cluster/launch.js'

/**
 * A 4-node cluster of real processes on loopback, started detached by `ephemera cluster up`:
 * full mesh, a non-member refused, kill -9 and heal, and `cluster down` leaving nothing behind.
 * The steps share one cluster and run in order.
 */

interface ClusterJson {
  status: string
  nodes: Array<{ name: string, pid: number, httpUrl: string, peerId: string, logFile: string }>
}

interface GroupInfo {
  connected: number
  members: Array<{ name: string, peerId: string, self: boolean, connected: boolean }>
  refusedNonMembers: { refused: number, lastPeerId?: string }
}

const MESH_DEADLINE_MS = 30_000

describe('local cluster of 4 real node processes', () => {
  let dir: string
  let cluster: ClusterJson

  const readCluster = async (): Promise<ClusterJson> => JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
  const connectedOthers = async (httpUrl: string): Promise<number> => {
    const info = await getJson<GroupInfo>(`${httpUrl}/ephemera/broadcast/group/info`)
    return info.members.filter((m) => !m.self && m.connected).length
  }
  const fullMesh = async (): Promise<boolean> => {
    const counts = await Promise.all(cluster.nodes.map(async (n) => await connectedOthers(n.httpUrl)))
    return counts.every((c) => c === 3)
  }

  beforeAll(async () => {
    dir = await makeTempDir()
  })

  afterAll(async () => {
    await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    killTracked()
    await removeDir(dir)
  })

  it('cluster up --nodes 4 forms a full mesh within the deadline', async () => {
    const basePort = await freePortBlock(20)
    const started = Date.now()
    const result = await runCli(['cluster', 'up', '--nodes', '4', '--dir', dir, '--base-port', String(basePort), '--detach', '--timeout', String(MESH_DEADLINE_MS / 1000)],
      { timeoutMs: MESH_DEADLINE_MS + 15_000, env: { LOG_LEVEL: 'info' } })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/mesh formed in [\d.]+ s: 4 nodes, each connected to 3 members; coordinator at http/)
    expect(Date.now() - started).toBeLessThan(MESH_DEADLINE_MS + 15_000)

    cluster = await readCluster()
    expect(cluster.status).toBe('running')
    expect(cluster.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3', 'node4'])
    for (const node of cluster.nodes) {
      const info = await getJson<GroupInfo>(`${node.httpUrl}/ephemera/broadcast/group/info`)
      expect(info.members).toHaveLength(4)
      expect(info.members.filter((m) => !m.self && m.connected), `${node.name} sees 3 connected members`).toHaveLength(3)
      expect(info.members.find((m) => m.self)?.peerId).toBe(node.peerId)
      // every process runs with the cluster's node options and environment (src/cluster/launch.ts)
      const cmdline = (await readFile(`/proc/${node.pid}/cmdline`, 'utf8')).split('\0')
      for (const option of PROCESS_NODE_OPTIONS) expect(cmdline, `${node.name}'s command line`).toContain(option)
      const environ = (await readFile(`/proc/${node.pid}/environ`, 'utf8')).split('\0')
      for (const [key, value] of Object.entries(PROCESS_ENV)) expect(environ, `${node.name}'s environment`).toContain(`${key}=${value}`)
    }
  }, MESH_DEADLINE_MS + 20_000)

  it('serves health and config without secrets, and JSON 404s', async () => {
    const node = cluster.nodes[0]!
    const health = await getJson(`${node.httpUrl}/ephemera/node/health`)
    expect(health).toMatchObject({ status: 'ok', name: 'node1', peerId: node.peerId, members: 4, connectedMembers: 3 })
    expect(typeof health.uptimeSeconds).toBe('number')

    const res = await fetch(`${node.httpUrl}/ephemera/node/config`)
    const text = await res.text()
    const key = await readFile(join(dir, 'node1', 'node.key'), 'utf8')
    const keyBody = key.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('')
    expect(text).not.toContain('PRIVATE KEY')
    expect(text).not.toContain(keyBody)
    expect(JSON.parse(text)).toMatchObject({ name: 'node1', peerId: node.peerId, http: { host: '127.0.0.1' } })

    const missing = await fetch(`${node.httpUrl}/ephemera/no/such/route`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: 'ERR_NOT_FOUND' })
  })

  it('refuses a fifth process whose key is not in the peers file', async () => {
    const outsiderDir = join(dir, 'outsider-net')
    const ports = await freePortBlock(4)
    const init = await runCli(['init', '--nodes', '1', '--out', outsiderDir, '--base-port', String(ports), '--json'])
    expect(init.code).toBe(0)
    const outsider = JSON.parse(init.stdout) as { nodes: Array<{ peerId: string, configFile: string, httpUrl: string }> }
    const me = outsider.nodes[0]!
    // the outsider lists the real members (and itself) so that it dials all of them
    const peersFile = join(outsiderDir, 'peers.toml')
    const realMembers = await readFile(join(dir, 'peers.toml'), 'utf8')
    const own = (await readFile(peersFile, 'utf8')).replaceAll('"node1"', '"outsider"')
    await writeFile(peersFile, own + '\n' + realMembers.split('\n').filter((l) => !l.startsWith('#')).join('\n'))
    const configText = (await readFile(me.configFile, 'utf8')).replace('name = "node1"', 'name = "outsider"')
    await writeFile(me.configFile, configText)

    const child = startCli(['node', 'run', '--config', me.configFile], join(outsiderDir, 'outsider.log'))
    try {
      // every member refuses it (and logs so), none ever holds a connection to it
      await waitFor(async () => {
        const infos = await Promise.all(cluster.nodes.map(async (n) => await getJson<GroupInfo>(`${n.httpUrl}/ephemera/broadcast/group/info`)))
        return infos.every((info) => info.refusedNonMembers.refused > 0 && info.refusedNonMembers.lastPeerId === me.peerId)
      }, { timeoutMs: 20_000, what: 'every member to refuse the outsider' })
      for (let sample = 0; sample < 10; sample++) {
        for (const node of cluster.nodes) {
          const { connections } = await getJson<{ connections: Array<{ peerId: string, member: string | null }> }>(`${node.httpUrl}/ephemera/node/connections`)
          expect(connections.map((c) => c.peerId), `${node.name} holds no connection to the outsider`).not.toContain(me.peerId)
          expect(connections.every((c) => c.member != null)).toBe(true)
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      for (const node of cluster.nodes) {
        const log = await readFile(node.logFile, 'utf8')
        const refusal = log.split('\n').find((line) => line.includes('refused connection from non-member') && line.includes(me.peerId))
        expect(refusal, `${node.name} logs the refusal`).toBeDefined()
      }
      // the members' own mesh is untouched
      expect(await fullMesh()).toBe(true)
    } finally {
      child.kill('SIGTERM')
      await waitForExit(child, 10_000)
    }
  }, 40_000)

  it('heals after kill -9 of one node and a restart', async () => {
    const victim = cluster.nodes[1]!
    const survivorPid = cluster.nodes[0]!.pid
    process.kill(victim.pid, 'SIGKILL')
    await waitFor(async () => {
      const counts = await Promise.all(cluster.nodes.filter((n) => n !== victim).map(async (n) => await connectedOthers(n.httpUrl)))
      return counts.every((c) => c === 2)
    }, { timeoutMs: 15_000, what: 'the others to notice the killed node' })

    // `cluster up --detach` on a running cluster starts only the missing node
    const result = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('node1 already running')
    expect(result.stdout).toMatch(/started node2 \(pid \d+\)/)
    expect(result.stdout).toMatch(/mesh formed/)
    cluster = await readCluster()
    expect(cluster.nodes[1]!.pid).not.toBe(victim.pid)
    expect(cluster.nodes[0]!.pid).toBe(survivorPid)
    await waitFor(fullMesh, { timeoutMs: 15_000, what: 'the full mesh again' })
    // the restarted node kept its data directory: this is its second start
    const log = await readFile(victim.logFile, 'utf8')
    expect(log).toMatch(/"starts":2/)
  }, 70_000)

  it('cluster down stops every process and leaves none behind', async () => {
    const pids = cluster.nodes.map((n) => n.pid)
    const result = await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    expect(result.code).toBe(0)
    // 4 nodes and the coordinator
    expect(result.stdout).toMatch(/stopped 5 processes/)
    for (const pid of pids) expect(await isRunning(pid), `pid ${pid} is gone`).toBe(false)
    expect(await processesMentioning(dir)).toEqual([])
    expect((await readCluster()).status).toBe('stopped')
    // every process shut down gracefully, not by SIGKILL
    for (const node of cluster.nodes) expect(await readFile(node.logFile, 'utf8')).toContain('"msg":"node stopped"')
    expect(await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8')).toContain('"msg":"coordinator stopped"')
    const again = await runCli(['cluster', 'down', '--dir', dir])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('nothing was running')
  }, 40_000)
})
