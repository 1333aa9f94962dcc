import { mkdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadNodeConfig } from '../config/index.js'
import { CLUSTER_MARKER_FILE, NODE_CONFIG_FILE, type ClusterMarker } from '../config/generate.js'
import { readKeyFile } from '../crypto/keys.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists, writeFileAtomic } from '../util/fs.js'
import { sleep } from '../util/time.js'
import { tryGetJson } from './http.js'
import { prepareJoin } from './join.js'
import { lastLogLines, processState, startProcess } from './launch.js'
import { alive, type Running } from './mesh.js'
import type { ProcessPlan } from './plan.js'
import { assertPortsFree, multiaddrPort } from './ports.js'
import { processAlive } from './processes.js'
import { readClusterState, writeClusterState } from './state.js'

export interface ClusterAddOptions {
  dir: string
  /** Default: the first free nodeK. An existing joined node of that name is started again. */
  name?: string
  /** p2p on it, HTTP on the next; default: after the highest port the coordinator knows. */
  basePort?: number
  print: (line: string) => void
  /** How long to wait for the new node's API. */
  timeoutMs?: number
}

/**
 * `ephemera cluster add`: one more validator for a running detached local network. It makes the
 * node's key and config with `init --join`'s rules (DIR/<name>/, ports after the highest the
 * coordinator knows), starts it in the background, and records it in cluster.json (so `cluster
 * down` and `cluster status` include it) and in DIR's marker. The node asks the coordinator to
 * join (rewards.auto_join); it enters a later epoch's committee once admitted.
 */
export async function clusterAdd (opts: ClusterAddOptions): Promise<number> {
  const dir = resolve(opts.dir)
  const state = await readClusterState(dir)
  const coordinator = state?.coordinator
  if (state == null || state.status !== 'running' || coordinator?.pid == null || !processAlive(coordinator.pid, coordinator.configFile)) {
    throw new EphemeraError(ErrorCode.CLUSTER, `no running rewards cluster in ${dir} (with its coordinator): start it with \`ephemera cluster up --detach --dir ${opts.dir}\` first`)
  }
  if (state.mode !== 'detached') throw new EphemeraError(ErrorCode.CLUSTER, `the cluster in ${dir} runs in the foreground (its supervisor owns its processes): restart it with \`ephemera cluster up --detach --dir ${opts.dir}\` to add nodes`)
  const known = state.nodes.find((n) => n.name === opts.name)
  if (known?.pid != null && processAlive(known.pid, known.configFile)) throw new EphemeraError(ErrorCode.CLUSTER, `${known.name} is already running (pid ${known.pid})`)

  // the files: made once (init --join), reused when the node is started again
  const existing = opts.name != null && await pathExists(join(dir, opts.name, NODE_CONFIG_FILE))
  const configFile = existing ? join(dir, opts.name as string, NODE_CONFIG_FILE) : (await prepareJoin({ url: coordinator.httpUrl, out: dir, name: opts.name, basePort: opts.basePort, host: '127.0.0.1', force: false })).result.configFile
  const config = await loadNodeConfig(configFile)
  const key = await readKeyFile(config.key_file)
  const p2p = multiaddrPort(config.p2p.listen)
  const plan: ProcessPlan = {
    role: 'node',
    name: config.name,
    peerId: key.peerId.toString(),
    address: config.p2p.listen,
    configFile,
    httpUrl: `http://${config.http.host}:${config.http.port}`,
    logFile: join(dir, 'logs', `${config.name}.log`),
    args: ['node', 'run', '--config', configFile],
    ports: [...(p2p == null ? [] : [{ ...p2p, what: `${config.name} p2p` }]), { host: config.http.host, port: config.http.port, what: `${config.name} http` }]
  }
  await assertPortsFree(plan.ports, `stop what holds them; ${config.name}'s files are in ${join(dir, config.name)}`)
  await mkdir(join(dir, 'logs'), { recursive: true })
  await markJoined(dir, config.name)
  const running: Running = startProcess(plan, false)
  await writeClusterState(dir, { ...state, nodes: [...state.nodes.filter((n) => n.name !== config.name), processState(running)] })
  opts.print(`started ${config.name} (pid ${running.pid}) p2p ${plan.address} http ${plan.httpUrl} log ${plan.logFile}`)

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  while (await tryGetJson(`${plan.httpUrl}/ephemera/node/health`) == null) {
    if (!alive(running)) throw new EphemeraError(ErrorCode.CLUSTER, `${config.name} exited during start-up (${running.exit ?? 'not running'}): ${lastLogLines(plan)} [log: ${plan.logFile}]`)
    if (Date.now() > deadline) throw new EphemeraError(ErrorCode.CLUSTER, `${config.name} did not answer within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s [log: ${plan.logFile}]`)
    await sleep(250)
  }
  opts.print(`${config.name} runs and asks the coordinator to join the committee; \`ephemera contract status --contract ${coordinator.httpUrl}\` shows the queue, and it takes part from the epoch its admission names`)
  return 0
}

/** Records a joined node in DIR's marker, so `cluster clear` knows its folder belongs to the cluster. */
async function markJoined (dir: string, name: string): Promise<void> {
  const file = join(dir, CLUSTER_MARKER_FILE)
  if (!await pathExists(file)) return
  const marker = JSON.parse(await readFile(file, 'utf8')) as ClusterMarker
  if (marker.nodes.includes(name)) return
  await writeFileAtomic(file, JSON.stringify({ ...marker, nodes: [...marker.nodes, name] }, null, 2) + '\n')
}
