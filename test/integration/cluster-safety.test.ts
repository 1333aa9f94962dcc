import { spawn, type ChildProcess } from 'node:child_process'
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LevelCoordinatorStore } from '../../src/contract/store.js'
import { Database } from '../../src/storage/index.js'
import { killTracked, runCli, startCli, waitForExit } from '../helpers/cli.js'
import { freePortBlock, getJson, isRunning, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'

/**
 * Local commands that used to destroy data or mislead, each against real processes:
 * `cluster clear` on a folder that is not a cluster, `init --force` under a running node,
 * `cluster up` on ports another cluster holds (or whose answers come from another process), and
 * `cluster up` with an epoch length the coordinator's data was not made with.
 */

const oneLineError = (stderr: string): string => {
  const lines = stderr.trimEnd().split('\n')
  expect(lines, `one line, got: ${stderr}`).toHaveLength(1)
  expect(lines[0]).toMatch(/^error: /)
  return lines[0]!
}

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

/** A stand-in process (kept until afterAll) that runs `script` with `args`. */
function fake (script: string, args: string[] = []): ChildProcess & { ready: Promise<void> } {
  const child = spawn(process.execPath, ['-e', script, '--', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  fakes.push(child)
  const ready = new Promise<void>((resolve) => child.stdout.once('data', () => { resolve() }))
  return Object.assign(child, { ready })
}
const fakes: ChildProcess[] = []

describe('safe local commands', () => {
  let root: string

  beforeAll(async () => {
    root = await makeTempDir()
  })

  afterAll(async () => {
    for (const child of fakes) child.kill('SIGKILL')
    for (const sub of ['a', 'b', 'c', 'd', 'e', 'hand']) await runCli(['cluster', 'down', '--dir', join(root, sub)], { timeoutMs: 30_000 }).catch(() => {})
    killTracked()
    for (const pid of await processesMentioning(root)) process.kill(pid, 'SIGKILL')
    await removeDir(root)
  })

  it.each([[[] as string[]], [['--all']]])('cluster clear %j refuses a folder that is not a cluster and deletes nothing', async (extra) => {
    const folder = join(root, `plain${extra.length}`)
    await mkdir(join(folder, 'logs'), { recursive: true })
    await writeFile(join(folder, 'logs', 'mine.log'), 'keep')
    await writeFile(join(folder, 'cluster.json'), '{}')
    const result = await runCli(['cluster', 'clear', '--dir', folder, ...extra])
    expect(result.code).toBe(1)
    expect(oneLineError(result.stderr)).toBe(`error: ${folder} is not an ephemera cluster directory (no peers.toml and no .ephemera-cluster.json marker written by \`ephemera init\`); refusing to delete anything`)
    expect(await readFile(join(folder, 'logs', 'mine.log'), 'utf8')).toBe('keep')
    expect(await exists(join(folder, 'cluster.json'))).toBe(true)
  })

  it('init --force refuses while a node started by hand runs with one of DIR\'s configs', async () => {
    const dir = join(root, 'hand')
    const base = await freePortBlock(4)
    expect((await runCli(['init', '--nodes', '1', '--app', 'messages', '--out', dir, '--base-port', String(base)])).code).toBe(0)
    const keyFile = join(dir, 'node1', 'node.key')
    const key = await readFile(keyFile, 'utf8')
    const node = startCli(['node', 'run', '--config', join(dir, 'node1', 'config.toml')], join(root, 'hand-node.log'))
    const health = await waitFor(async () => await getJson<{ pid: number }>(`http://127.0.0.1:${base + 2}/ephemera/node/health`), { timeoutMs: 20_000, what: 'the hand-started node' })
    expect(health.pid).toBe(node.pid)

    const forced = await runCli(['init', '--nodes', '1', '--out', dir, '--force'])
    expect(forced.code).toBe(1)
    const line = oneLineError(forced.stderr)
    expect(line).toMatch(new RegExp(`^error: the cluster in ${dir} is running \\(pids ${node.pid} \\(ephemera node run --config ${dir}/node1/config\\.toml\\)\\); stop it first with \`kill ${node.pid}\` \\(started outside \`cluster up\`\\); refusing to replace its keys and wipe its data$`))
    expect(await readFile(keyFile, 'utf8')).toBe(key)
    expect(await exists(join(dir, 'node1', 'data'))).toBe(true)
    expect(await isRunning(node.pid as number)).toBe(true)

    node.kill('SIGTERM')
    await waitForExit(node, 15_000)
    const again = await runCli(['init', '--nodes', '1', '--out', dir, '--force'])
    expect(again.code).toBe(0)
    expect(await readFile(keyFile, 'utf8')).not.toBe(key)
  }, 60_000)

  describe('two clusters on the same ports', () => {
    let base: number
    let a: { coordinator: { pid: number }, nodes: Array<{ pid: number }> }

    beforeAll(async () => {
      base = await freePortBlock(6)
      const up = await runCli(['cluster', 'up', '--dir', join(root, 'a'), '--nodes', '2', '--environment', 'testing', '--base-port', String(base), '--detach', '--timeout', '40'],
        { timeoutMs: 60_000, env: { LOG_LEVEL: 'info' } })
      expect(up.stderr).toBe('')
      expect(up.code).toBe(0)
      a = JSON.parse(await readFile(join(root, 'a', 'cluster.json'), 'utf8')) as typeof a
    }, 70_000)

    const pidsOfA = (): number[] => [a.coordinator.pid, ...a.nodes.map((n) => n.pid)]

    it('init --force on the running cluster refuses, naming its pids and `cluster down`', async () => {
      const dir = join(root, 'a')
      const key = await readFile(join(dir, 'node1', 'node.key'), 'utf8')
      const forced = await runCli(['init', '--nodes', '2', '--out', dir, '--force'])
      expect(forced.code).toBe(1)
      expect(oneLineError(forced.stderr)).toBe(`error: the cluster in ${dir} is running (pids ${a.coordinator.pid} coordinator, ${a.nodes[0]!.pid} node1, ${a.nodes[1]!.pid} node2); stop it first with \`ephemera cluster down --dir ${dir}\`; refusing to replace its keys and wipe its data`)
      expect(await readFile(join(dir, 'node1', 'node.key'), 'utf8')).toBe(key)
      for (const pid of pidsOfA()) expect(await isRunning(pid)).toBe(true)
    })

    it('cluster up of another DIR on those ports refuses before starting anything, naming the ports and their holders', async () => {
      const dir = join(root, 'b')
      expect((await runCli(['init', '--nodes', '2', '--out', dir, '--base-port', String(base)])).code).toBe(0)
      const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '20'], { timeoutMs: 40_000 })
      expect(up.code).toBe(1)
      const line = oneLineError(up.stderr)
      expect(line).toContain(`error: ports already in use: ${base} (coordinator http) held by pid ${a.coordinator.pid} (ephemera contract run --config ${join(root, 'a', 'coordinator', 'config.toml')}`)
      expect(line).toContain(`${base + 1} (node1 p2p), ${base + 2} (node1 http) held by pid ${a.nodes[0]!.pid} (ephemera node run --config ${join(root, 'a', 'node1', 'config.toml')}`)
      expect(line).toContain(`${base + 3} (node2 p2p), ${base + 4} (node2 http) held by pid ${a.nodes[1]!.pid} `)
      expect(line).toMatch(/nothing was started$/)
      expect(up.stdout).not.toMatch(/started|mesh formed/)
      expect(await processesMentioning(dir)).toEqual([])
      expect(await exists(join(dir, 'logs'))).toBe(false)
      for (const pid of pidsOfA()) expect(await isRunning(pid)).toBe(true)
    }, 45_000)

    it('cluster up of a new DIR on those ports refuses before initialising it', async () => {
      const dir = join(root, 'c')
      const up = await runCli(['cluster', 'up', '--dir', dir, '--nodes', '2', '--base-port', String(base), '--detach'], { timeoutMs: 40_000 })
      expect(up.code).toBe(1)
      expect(oneLineError(up.stderr)).toMatch(new RegExp(`^error: ports already in use: ${base} \\(coordinator http\\) held by pid ${a.coordinator.pid} .*; refusing to start anything: stop what holds them, or choose another --base-port; nothing was written$`))
      expect(await exists(join(dir, 'peers.toml'))).toBe(false)
      expect(await processesMentioning(dir)).toEqual([])
    }, 45_000)

    it('cluster clear on the running cluster still refuses', async () => {
      const clear = await runCli(['cluster', 'clear', '--dir', join(root, 'a'), '--all'])
      expect(clear.code).toBe(1)
      expect(oneLineError(clear.stderr)).toMatch(/is running \(pids .*\); stop it first with `ephemera cluster down --dir .*`; refusing to delete anything$/)
      expect(await exists(join(root, 'a', 'peers.toml'))).toBe(true)
    })
  })

  it('cluster up reports no mesh when what answers on its address is not its own process', async () => {
    const dir = join(root, 'd')
    const base = await freePortBlock(4)
    const init = await runCli(['init', '--nodes', '1', '--app', 'messages', '--out', dir, '--base-port', String(base), '--json'])
    const node = (JSON.parse(init.stdout) as { nodes: Array<{ peerId: string, configFile: string, httpUrl: string, address: string }> }).nodes[0]!
    // node1 of an earlier run, still alive (its command line names its config), is adopted...
    const adopted = fake("console.log('up'); setInterval(() => {}, 1000)", [node.configFile])
    // ...but its HTTP port is served by another process: another copy of this cluster (same PeerId)
    const foreign = fake(`
      const http = require('node:http')
      const body = {
        '/ephemera/node/health': { status: 'ok', name: 'node1', peerId: ${JSON.stringify(node.peerId)}, pid: process.pid, uptimeSeconds: 1, startedAt: '', connectedMembers: 0, members: 1 },
        '/ephemera/broadcast/group/info': { connected: 0, members: [{ name: 'node1', peerId: ${JSON.stringify(node.peerId)}, self: true, connected: false }] }
      }
      http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(body[req.url] ?? {})) }).listen(${base + 2}, '127.0.0.1', () => console.log('listening'))`)
    await Promise.all([adopted.ready, foreign.ready])
    const record = { name: 'node1', peerId: node.peerId, pid: adopted.pid, httpUrl: node.httpUrl, multiaddr: `${node.address}/p2p/${node.peerId}`, configFile: node.configFile, logFile: join(dir, 'logs', 'node1.log'), startedAt: new Date().toISOString() }
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ version: 1, dir, status: 'running', mode: 'detached', supervisorPid: null, updatedAt: new Date().toISOString(), coordinator: null, nodes: [record] }))

    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '15'], { timeoutMs: 30_000 })
    expect(up.stdout).toContain(`node1 already running (pid ${adopted.pid})`)
    expect(up.stdout).not.toContain('mesh formed')
    expect(up.code).toBe(1)
    expect(oneLineError(up.stderr)).toMatch(new RegExp(`^error: ${node.httpUrl} answers as pid ${foreign.pid}, not as the node1 of this cluster \\(pid ${adopted.pid}\\): another process`))
    // the adopted process was not started by this run, so it is left alone
    expect(await isRunning(adopted.pid as number)).toBe(true)
  }, 40_000)

  it('cluster up refuses an epoch length the coordinator\'s data was not made with, before starting anything', async () => {
    const dir = join(root, 'e')
    const base = await freePortBlock(4)
    expect((await runCli(['init', '--nodes', '1', '--environment', 'testing', '--out', dir, '--base-port', String(base)])).code).toBe(0)
    // what the coordinator keeps after its first start with 2-second epochs
    const db = await Database.open(join(dir, 'coordinator', 'data'))
    const store = new LevelCoordinatorStore(db)
    await store.setEpochMs(2_000)
    await store.setGenesis(Date.now())
    await db.close()

    const up = await runCli(['cluster', 'up', '--dir', dir, '--epoch-seconds', '3', '--detach', '--timeout', '15'], { timeoutMs: 30_000 })
    expect(up.code).toBe(1)
    expect(oneLineError(up.stderr)).toBe(`error: the coordinator's data in ${join(dir, 'coordinator', 'data')} was made with 2 s epochs, but this start would use 3 s (from --epoch-seconds 3): every epoch number would change; start with the original length (--epoch-seconds 2), or delete the cluster's data first with \`ephemera cluster clear --dir ${dir}\`; nothing was started`)
    expect(up.stdout).not.toContain('started')
    expect(await exists(join(dir, 'logs'))).toBe(false)
    expect(await processesMentioning(dir)).toEqual([])

    // the way out it names works: clear, then the new length
    expect((await runCli(['cluster', 'clear', '--dir', dir])).code).toBe(0)
    const again = await runCli(['cluster', 'up', '--dir', dir, '--epoch-seconds', '3', '--detach', '--timeout', '30'], { timeoutMs: 45_000 })
    expect(again.stderr).toBe('')
    expect(again.stdout).toMatch(/mesh formed in [\d.]+ s: 1 nodes/)
    const health = await getJson<{ pid: number }>(`http://127.0.0.1:${base}/contract/health`)
    const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as { coordinator: { pid: number } }
    expect(health.pid).toBe(state.coordinator.pid)
    const down = await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    expect(down.code).toBe(0)
  }, 60_000)
})
