import { spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPeersFile } from '../../../src/config/peers.js'
import { freePortBlock } from '../../helpers/ports.js'
import { getJson, tryGetJson } from './http.js'
import { CLI, RESULTS_DIR } from './paths.js'
import { logTail, ManagedProcess } from './proc.js'
import { waitUntil } from './wait.js'

/**
 * A network made with `ephemera init` in its own temp dir on random free ports, and a
 * coordinator (for `app = rewards`) and N nodes run as separate processes the harness controls.
 * Every node gets a partition file (`p2p.fault_partition_file`) so that any scenario can cut
 * links. Readiness is checked over HTTP against the pid (and PeerId) the harness started.
 */

export interface ClusterOptions {
  /** Used in the temp dir's name and in saved logs. */
  label: string
  n: number
  app: 'rewards' | 'messages'
  /** Epoch length in seconds (rewards). Default 2. */
  epochSeconds?: number
  mixnodes?: number
  /** `--set KEY=VALUE` for every node. */
  nodeSet?: string[]
  /** `--set KEY=VALUE` for one node. */
  nodeSetFor?: Record<string, string[]>
  /** `--set KEY=VALUE` for the coordinator. */
  coordinatorSet?: string[]
}

export interface MemberInfo {
  name: string
  peerId: string
  address: string
  httpUrl: string
  dir: string
  partitionFile: string
}

export interface EpochClock {
  genesisMs: number
  epochMs: number
}

export async function runCliOnce (args: string[], timeoutMs = 60_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => { child.on('exit', (c) => { resolve(c) }) })
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export class Cluster {
  readonly opts: ClusterOptions
  readonly dir: string
  readonly basePort: number
  readonly members: MemberInfo[]
  readonly coordinator: ManagedProcess | undefined
  readonly nodes: Map<string, ManagedProcess>
  readonly contractUrl: string
  clock: EpochClock | undefined

  private constructor (opts: ClusterOptions, dir: string, basePort: number, members: MemberInfo[]) {
    this.opts = opts
    this.dir = dir
    this.basePort = basePort
    this.members = members
    this.contractUrl = `http://127.0.0.1:${basePort}`
    this.coordinator = opts.app === 'rewards'
      ? new ManagedProcess({
        name: 'coordinator',
        role: 'coordinator',
        args: ['contract', 'run', '--config', join(dir, 'coordinator', 'config.toml'), ...(opts.coordinatorSet ?? []).flatMap((s) => ['--set', s])],
        logFile: join(dir, 'coordinator.log')
      })
      : undefined
    this.nodes = new Map(members.map((m) => [m.name, new ManagedProcess({
      name: m.name,
      role: 'node',
      args: ['node', 'run', '--config', join(m.dir, 'config.toml'), '--set', `p2p.fault_partition_file=${m.partitionFile}`,
        ...[...(opts.nodeSet ?? []), ...(opts.nodeSetFor?.[m.name] ?? [])].flatMap((s) => ['--set', s])],
      logFile: join(dir, `${m.name}.log`)
    })]))
  }

  static async create (opts: ClusterOptions): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), `ephemera-e2e-${opts.label}-`))
    try {
      const basePort = await freePortBlock(2 * opts.n + 2)
      const args = ['init', '--nodes', String(opts.n), '--out', dir, '--base-port', String(basePort), '--environment', 'testing', '--app', opts.app,
        '--epoch-seconds', String(opts.epochSeconds ?? 2), ...(opts.mixnodes != null ? ['--mixnodes', String(opts.mixnodes)] : [])]
      const init = await runCliOnce(args)
      if (init.code !== 0) throw new Error(`ephemera init failed (${String(init.code)}): ${init.stderr}`)
      const members = (await loadPeersFile(join(dir, 'peers.toml'))).map((m, i) => ({
        name: m.name,
        peerId: m.peerId,
        address: m.address,
        httpUrl: `http://127.0.0.1:${basePort + 2 * i + 2}`,
        dir: join(dir, m.name),
        partitionFile: join(dir, m.name, 'partition.txt')
      }))
      return new Cluster(opts, dir, basePort, members)
    } catch (err) {
      await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  get n (): number {
    return this.members.length
  }

  /** f = ⌊(n−1)/3⌋ */
  get f (): number {
    return Math.floor((this.n - 1) / 3)
  }

  get q (): number {
    return this.n - this.f
  }

  get names (): string[] {
    return this.members.map((m) => m.name)
  }

  member (name: string): MemberInfo {
    const m = this.members.find((x) => x.name === name)
    if (m == null) throw new Error(`no member ${name}`)
    return m
  }

  node (name: string): ManagedProcess {
    const p = this.nodes.get(name)
    if (p == null) throw new Error(`no node ${name}`)
    return p
  }

  /** A node or 'coordinator'. */
  process (name: string): ManagedProcess {
    if (name === 'coordinator') {
      if (this.coordinator == null) throw new Error('this cluster has no coordinator')
      return this.coordinator
    }
    return this.node(name)
  }

  url (name: string): string {
    return this.member(name).httpUrl
  }

  all (): ManagedProcess[] {
    return [...(this.coordinator != null ? [this.coordinator] : []), ...this.nodes.values()]
  }

  // ---- epochs ---------------------------------------------------------------------------------

  epochAt (t = Date.now()): number {
    const c = this.requireClock()
    return Math.floor((t - c.genesisMs) / c.epochMs) + 1
  }

  epochStart (epoch: number): number {
    const c = this.requireClock()
    return c.genesisMs + (epoch - 1) * c.epochMs
  }

  epochEnd (epoch: number): number {
    return this.epochStart(epoch + 1)
  }

  get epochMs (): number {
    return this.clock?.epochMs ?? (this.opts.epochSeconds ?? 2) * 1000
  }

  requireClock (): EpochClock {
    if (this.clock == null) throw new Error('the epoch clock is unknown (no coordinator started yet)')
    return this.clock
  }

  // ---- processes ------------------------------------------------------------------------------

  async startCoordinator (opts: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<void> {
    const c = this.process('coordinator')
    const pid = c.start({ env: opts.env })
    await waitUntil(async () => {
      if (!c.running) throw new Error(`the coordinator exited during start-up (${describeExit(c)}): ${logTail(c.logSince())}`)
      const health = await tryGetJson<{ status: string, pid: number }>(`${this.contractUrl}/contract/health`, 1_500)
      if (health != null && health.pid !== pid) throw new Error(`another process (pid ${health.pid}) answers on the coordinator's port, not ours (${pid})`)
      return health?.status === 'ok'
    }, { timeoutMs: opts.timeoutMs ?? 30_000, what: 'the coordinator to answer /contract/health' })
    const info = await getJson<{ genesisMs: number, epochMs: number }>(`${this.contractUrl}/contract/epoch`)
    this.clock = { genesisMs: info.genesisMs, epochMs: info.epochMs }
  }

  /** Starts a node and waits until it answers /health as the process we started (and, for rewards, sees the coordinator). */
  async startNode (name: string, opts: { env?: Record<string, string>, args?: string[], timeoutMs?: number, waitCoordinator?: boolean } = {}): Promise<void> {
    const p = this.node(name)
    p.start({ env: opts.env, args: opts.args })
    await this.waitNodeReady(name, opts)
  }

  async waitNodeReady (name: string, opts: { timeoutMs?: number, waitCoordinator?: boolean } = {}): Promise<void> {
    const p = this.node(name)
    const m = this.member(name)
    const pid = p.pid
    await waitUntil(async () => {
      if (!p.running) throw new Error(`${name} exited during start-up (${describeExit(p)}): ${logTail(p.logSince())}`)
      const health = await tryGetJson<{ status: string, pid: number, peerId: string }>(`${m.httpUrl}/ephemera/node/health`, 1_500)
      if (health == null) return false
      if (health.pid !== pid || health.peerId !== m.peerId) throw new Error(`${m.httpUrl} is answered by pid ${health.pid} (${health.peerId}), not by ${name} (pid ${String(pid)}, ${m.peerId})`)
      if (health.status !== 'ok') return false
      if (this.opts.app === 'rewards' && opts.waitCoordinator !== false && this.coordinator?.running === true) {
        const status = await tryGetJson<{ connected: boolean }>(`${m.httpUrl}/ephemera/rewards/status`, 1_500)
        return status?.connected === true
      }
      return true
    }, { timeoutMs: opts.timeoutMs ?? 30_000, what: `${name} to be ready` })
  }

  /** Waits until each of `names` is connected to every other one of `names`. */
  async waitMesh (names: string[] = this.names, timeoutMs = 30_000): Promise<void> {
    await waitUntil(async () => {
      for (const name of names) {
        const info = await tryGetJson<{ members: Array<{ name: string, connected: boolean, self: boolean }> }>(`${this.url(name)}/ephemera/broadcast/group/info`, 1_500)
        if (info == null) return false
        const connected = new Set(info.members.filter((m) => m.connected).map((m) => m.name))
        if (names.some((other) => other !== name && !connected.has(other))) return false
      }
      return true
    }, { timeoutMs, what: `a full mesh among ${names.join(', ')}` })
  }

  /** Coordinator first (the nodes ask it for the epoch clock), then every node; waits for the mesh. */
  async startAll (opts: { envFor?: (name: string) => Record<string, string> | undefined, timeoutMs?: number } = {}): Promise<void> {
    if (this.coordinator != null) await this.startCoordinator({ env: opts.envFor?.('coordinator') })
    for (const name of this.names) this.node(name).start({ env: opts.envFor?.(name) })
    const timeoutMs = opts.timeoutMs ?? 30_000 + 3_000 * this.n
    for (const name of this.names) await this.waitNodeReady(name, { timeoutMs })
    await this.waitMesh(this.names, timeoutMs)
  }

  // ---- partitions -----------------------------------------------------------------------------

  /** Cuts the network into `groups` (names); members not named form one more group. */
  async partition (groups: string[][]): Promise<void> {
    const named = new Set(groups.flat())
    const rest = this.names.filter((n) => !named.has(n))
    const all = rest.length > 0 ? [...groups, rest] : groups
    for (const m of this.members) {
      const mine = all.find((g) => g.includes(m.name)) ?? []
      const cut = this.members.filter((o) => !mine.includes(o.name)).map((o) => `${o.peerId} # ${o.name}`)
      await writeFile(m.partitionFile, cut.join('\n') + (cut.length > 0 ? '\n' : ''))
    }
  }

  async healPartition (): Promise<void> {
    for (const m of this.members) await writeFile(m.partitionFile, '')
  }

  // ---- teardown -------------------------------------------------------------------------------

  /** Kills every process; keeps the logs under results/logs/<label>/ when asked; deletes the dir. */
  async destroy (opts: { keepLogs?: boolean } = {}): Promise<void> {
    for (const p of this.all()) p.forceKill()
    await Promise.all(this.all().map(async (p) => { await p.waitExit(5_000).catch(() => {}) }))
    if (opts.keepLogs === true) {
      const target = join(RESULTS_DIR, 'logs', this.opts.label)
      await rm(target, { recursive: true, force: true })
      await mkdir(target, { recursive: true })
      for (const p of this.all()) await cp(p.logFile, join(target, `${p.name}.log`)).catch(() => {})
    }
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 })
  }
}

export function describeExit (p: ManagedProcess): string {
  const e = p.lastExit
  if (e == null) return 'running'
  return e.signal != null ? `killed by ${e.signal}` : `exit code ${String(e.code)}`
}
