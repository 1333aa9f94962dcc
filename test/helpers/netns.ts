import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { readlink } from 'node:fs/promises'
import { promisify } from 'node:util'
import { CLI } from './cli.js'
import { isRunning } from './env.js'

const run = promisify(execFile)

/**
 * Separate hosts on one machine: Linux network namespaces, each with its own interface and IPv4
 * address on a bridge (10.231.X.0/24), like machines on one LAN. The root namespace (the test)
 * gets X.1 on the bridge, so it reaches every host over the bridge and nothing over loopback.
 * Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2's `ip`.
 *
 * Names carry the test's pid (`ephnt-<pid>-<host>` namespaces, `ephnt<pid>br` and
 * `ephnt<pid>v<i>` links) so that parallel runs never collide and a later run can delete what a
 * killed one left behind.
 */

const PREFIX = 'ephnt'

async function ip (...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 })
  return stdout
}

/** Whether this process may create network namespaces, veth pairs and a bridge; otherwise why not. */
export async function netnsSupport (): Promise<{ ok: true } | { ok: false, reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'creating network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)' }
  try {
    await ip('-V')
  } catch {
    return { ok: false, reason: 'iproute2\'s `ip` command is not installed' }
  }
  const ns = `${PREFIX}-${process.pid}-probe`
  const link = `${PREFIX}${process.pid}p`
  try {
    await ip('netns', 'add', ns)
    await ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `\`ip netns add\` or a veth pair is not permitted here (${String((err as Error).message).split('\n').find((l) => l.trim() !== '' && !l.startsWith('Command failed')) ?? ''})` }
  } finally {
    await ip('link', 'del', link).catch(() => {})
    await ip('netns', 'del', ns).catch(() => {})
  }
}

export interface NetnsHost {
  name: string
  /** The network namespace (`ip netns exec NAMESPACE …`). */
  namespace: string
  /** Its address on the bridge. */
  address: string
}

export interface NetnsLab {
  hosts: NetnsHost[]
  /** The root namespace's address on the bridge (where the test's requests come from). */
  rootAddress: string
  /** Stops every process started in the lab, then deletes its namespaces, links and bridge. */
  cleanup: () => Promise<void>
  /** Starts `ephemera ARGS` inside a host's namespace, output appended to `logFile`. */
  startCli: (host: NetnsHost, args: string[], logFile: string, env?: NodeJS.ProcessEnv) => ChildProcess
}

/** Deletes namespaces and links an earlier run left behind when its process is gone. */
async function removeStale (): Promise<void> {
  const stale = async (name: string, pattern: RegExp): Promise<boolean> => {
    const pid = Number(pattern.exec(name)?.[1])
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !(await isRunning(pid))
  }
  for (const line of (await ip('netns', 'list')).split('\n')) {
    const name = line.split(' ')[0] ?? ''
    if (await stale(name, new RegExp(`^${PREFIX}-(\\d+)-`))) await ip('netns', 'del', name).catch(() => {})
  }
  for (const line of (await ip('-o', 'link', 'show')).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1] ?? ''
    if (await stale(name, new RegExp(`^${PREFIX}(\\d+)(?:br|v\\d+|p)$`))) await ip('link', 'del', name).catch(() => {})
  }
}

/** A /24 in 10.231.0.0/16 that no interface of the root namespace uses. */
async function freeSubnet (): Promise<string> {
  const used = await ip('-4', '-o', 'addr', 'show')
  for (let attempt = 0; attempt < 100; attempt++) {
    const subnet = `10.231.${1 + Math.floor(Math.random() * 254)}`
    if (!used.includes(` ${subnet}.`)) return subnet
  }
  throw new Error('no free 10.231.X.0/24 subnet')
}

/** Creates one namespace per name, each with its own address on a fresh bridge. */
export async function createLab (names: readonly string[]): Promise<NetnsLab> {
  await removeStale()
  const subnet = await freeSubnet()
  const bridge = `${PREFIX}${process.pid}br`
  const hosts: NetnsHost[] = names.map((name, i) => ({ name, namespace: `${PREFIX}-${process.pid}-${name}`, address: `${subnet}.${10 + i}` }))
  const children = new Set<ChildProcess>()
  const cleanup = async (): Promise<void> => {
    const alive = [...children].filter((c) => c.exitCode == null && c.signalCode == null)
    for (const child of alive) child.kill('SIGTERM')
    await Promise.all(alive.map(async (child) => await new Promise<void>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 12_000)
      child.once('exit', () => { clearTimeout(timer); resolve() })
      if (child.exitCode != null || child.signalCode != null) { clearTimeout(timer); resolve() }
    })))
    children.clear()
    for (const [i, host] of hosts.entries()) {
      await ip('link', 'del', `${PREFIX}${process.pid}v${i}`).catch(() => {})
      await ip('netns', 'del', host.namespace).catch(() => {})
    }
    await ip('link', 'del', bridge).catch(() => {})
  }
  try {
    // nf_call_iptables 0: bridged frames skip the host's iptables (a FORWARD DROP policy, e.g. Docker's)
    await ip('link', 'add', bridge, 'type', 'bridge', 'nf_call_iptables', '0')
    await ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge)
    await ip('link', 'set', bridge, 'up')
    for (const [i, host] of hosts.entries()) {
      const veth = `${PREFIX}${process.pid}v${i}`
      await ip('netns', 'add', host.namespace)
      await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace)
      await ip('link', 'set', veth, 'master', bridge)
      await ip('link', 'set', veth, 'up')
      await ip('-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0')
      await ip('-n', host.namespace, 'link', 'set', 'eth0', 'up')
      await ip('-n', host.namespace, 'link', 'set', 'lo', 'up')
    }
  } catch (err) {
    await cleanup()
    throw err
  }
  const startCli = (host: NetnsHost, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): ChildProcess => {
    const fd = openSync(logFile, 'a')
    try {
      // `ip netns exec` execs the command, so the child's pid is the ephemera process itself; the
      // IPC channel makes it stop by itself if the test process dies (exitWithParent)
      const child = spawn('ip', ['netns', 'exec', host.namespace, process.execPath, CLI, ...args], {
        env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env },
        stdio: ['ignore', fd, fd, 'ipc']
      })
      children.add(child)
      return child
    } finally {
      closeSync(fd)
    }
  }
  return { hosts, rootAddress: `${subnet}.1`, cleanup, startCli }
}

/** The network namespace of a process (`net:[inode]`). */
export async function netnsOf (pid: number): Promise<string> {
  return await readlink(`/proc/${pid}/ns/net`)
}
