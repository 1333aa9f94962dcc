import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { describeCommand, listProcesses } from './processes.js'

/** A TCP port a cluster process is about to listen on. */
export interface PortUse {
  host: string
  port: number
  /** e.g. "node1 p2p", "coordinator http" */
  what: string
}

/** The host and port of a `/ip4/H/tcp/P` (or ip6, dns) listen multiaddr; undefined when it has none. */
export function multiaddrPort (ma: string): { host: string, port: number } | undefined {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(ma)
  if (m == null) return undefined
  return { host: m[2] as string, port: Number(m[3]) }
}

/** The lowest port of the kernel's ephemeral range (net.ipv4.ip_local_port_range; 32768 when unknown). */
export function ephemeralLow (): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768
  } catch {
    return 32_768
  }
}

/**
 * A random block of `count` consecutive free ports on 127.0.0.1, chosen BELOW the kernel's
 * ephemeral range: a cluster's many outgoing connections take ephemeral ports, which could steal
 * a listen port between the check and the start (tests and the benchmark pick their ports here).
 */
export async function freePortBlock (count: number): Promise<number> {
  const low = ephemeralLow()
  const min = 10_000
  const max = Math.max(min + 1_000, low) - count
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = min + Math.floor(Math.random() * (max - min))
    let free = true
    for (let p = base; p < base + count && free; p++) free = !await portInUse('127.0.0.1', p)
    if (free) return base
  }
  throw new Error(`no block of ${count} free ports found below ${low}`)
}

/** Whether something already listens on host:port: a bind attempt fails with EADDRINUSE. */
export async function portInUse (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => {
      // EADDRNOTAVAIL, EACCES...: not a port held by someone else; the process reports it itself
      resolve(err.code === 'EADDRINUSE')
    })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(false) }) })
  })
}

/** Socket inode → port, of the sockets listening on one of `ports`, from /proc/net/tcp and tcp6 (Linux). */
function listeningInodes (ports: number[]): Map<string, number> {
  const inodes = new Map<string, number>()
  const wanted = new Map(ports.map((port) => [port.toString(16).toUpperCase().padStart(4, '0'), port]))
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (cols.length < 10 || cols[3] !== '0A') continue
      const port = wanted.get(cols[1]?.split(':').at(-1) ?? '')
      if (port != null && cols[9] != null) inodes.set(`socket:[${cols[9]}]`, port)
    }
  }
  return inodes
}

/**
 * What holds each of `ports`, as far as this user may see (Linux: the listening socket's inode,
 * found among the processes' open files): port → "pid N (command line)". Ports it cannot tell
 * are missing.
 */
export function portHolders (ports: number[]): Map<number, string> {
  const holders = new Map<number, string>()
  const inodes = listeningInodes(ports)
  if (inodes.size === 0) return holders
  for (const p of listProcesses()) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${p.pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        const port = inodes.get(readlinkSync(`/proc/${p.pid}/fd/${fd}`))
        if (port != null && !holders.has(port)) holders.set(port, `pid ${p.pid} (${describeCommand(p)})`)
      } catch {
        // closed meanwhile
      }
    }
  }
  return holders
}

/**
 * Refuses (ERR_ADDRESS_IN_USE, one line) when two uses share a port, or any port is taken: names
 * each port, what it is for, and what holds it when that can be told. `hint` ends the line.
 */
export async function assertPortsFree (uses: PortUse[], hint: string): Promise<void> {
  const byPort = new Map<number, PortUse>()
  for (const use of uses) {
    if (use.port === 0) continue
    const other = byPort.get(use.port)
    if (other != null) throw new EphemeraError(ErrorCode.ADDRESS_IN_USE, `${other.what} and ${use.what} are both configured with port ${use.port}; give each its own port`, { port: use.port })
    byPort.set(use.port, use)
  }
  const taken: PortUse[] = []
  for (const use of byPort.values()) if (await portInUse(use.host, use.port)) taken.push(use)
  if (taken.length === 0) return
  // grouped by holder: another cluster's node holds two ports, one description is enough
  const holders = portHolders(taken.map((use) => use.port))
  const groups = new Map<string, PortUse[]>()
  for (const use of taken) {
    const holder = holders.get(use.port) ?? ''
    groups.set(holder, [...(groups.get(holder) ?? []), use])
  }
  const parts = [...groups].map(([holder, group]) => `${group.map((use) => `${use.port} (${use.what})`).join(', ')}${holder !== '' ? ` held by ${holder}` : ''}`)
  throw new EphemeraError(ErrorCode.ADDRESS_IN_USE,
    `port${taken.length === 1 ? '' : 's'} already in use: ${parts.join('; ')}; refusing to start anything: ${hint}`, { ports: taken.map((u) => u.port) })
}
