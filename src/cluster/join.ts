import { join, resolve } from 'node:path'
import { joinNetwork, NODE_CONFIG_FILE, type JoinResult } from '../config/generate.js'
import type { GenesisRound } from '../contract/store.js'
import type { MembershipViewJson } from '../epochs/membership-requests.js'
import type { CommitteeMemberJson } from '../epochs/record.js'
import type { EpochInfoJson } from '../rewards/coordinator-client.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { pathExists } from '../util/fs.js'
import { tryGetJson } from './http.js'
import { describeCommand, processesWithConfig } from './processes.js'

/**
 * One validator's files for a running network (`init --join`, `cluster add`): the coordinator's
 * genesis, epoch info and the members it knows decide the name, ports and peers file.
 */

/** The first `nodeK` (k = 1, 2, …) not in `taken`. */
export function freeNodeName (taken: ReadonlySet<string>): string {
  for (let k = 1; ; k++) if (!taken.has(`node${k}`)) return `node${k}`
}

/**
 * Default ports of a joining validator, in `init`'s layout (node k: p2p BASE+2k−1, HTTP BASE+2k):
 * the pair after the highest TCP port in the addresses the coordinator knows, so the next node of
 * a local network gets what `init --nodes N+1` would have given it.
 */
export function nextPorts (multiaddrs: readonly string[]): { p2p: number, http: number } {
  const ports = multiaddrs.flatMap((a) => {
    const match = /\/tcp\/(\d+)/.exec(a)
    return match == null ? [] : [Number(match[1])]
  })
  if (ports.length === 0) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, 'the coordinator knows no TCP address of any member to place this node\'s ports after: give --base-port')
  const p2p = Math.max(...ports) + 2
  if (p2p + 1 > 65535) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `no free port pair after ${p2p - 2}: give --base-port`)
  return { p2p, http: p2p + 1 }
}


async function coordinatorJson<T> (url: string): Promise<T> {
  const answer = await tryGetJson<T>(url, 10_000)
  if (answer == null) throw new EphemeraError(ErrorCode.REMOTE, `cannot read ${url}: is the coordinator running?`)
  return answer
}

/** Everyone the coordinator knows: the genesis committee, and (when it serves them) the newest committee, the queue and staged admissions. */
async function knownMembers (base: string, genesis: GenesisRound): Promise<CommitteeMemberJson[]> {
  const view = await tryGetJson<MembershipViewJson>(`${base}/contract/membership`, 10_000)
  return [...genesis.committee.members, ...(view?.latest.members ?? []), ...(view?.queue ?? []).map((q) => q.member), ...(view?.next ?? []).map((q) => q.member)]
}

/** Refuses --force while a process (on Linux, from /proc) runs with that config. */
function refuseWhileRunning (configFile: string): void {
  const running = processesWithConfig([configFile])
  if (running.length === 0) return
  const list = running.map(({ process: p }) => `${p.pid} (${describeCommand(p)})`).join(', ')
  throw new EphemeraError(ErrorCode.CLUSTER, `${configFile} is in use by pid ${list}; stop it first with \`kill ${running.map(({ process: p }) => p.pid).join(' ')}\`; refusing to replace its key and wipe its data`)
}

export interface PrepareJoinOptions {
  /** The coordinator's URL. */
  url: string
  out: string
  name?: string
  basePort?: number
  host: string
  force: boolean
}

/** Writes the key, peers file and config of a new validator of the network at `url`. */
export async function prepareJoin (opts: PrepareJoinOptions): Promise<{ result: JoinResult, mixnodes: number }> {
  const base = opts.url.replace(/\/$/, '')
  const genesis = await coordinatorJson<GenesisRound>(`${base}/contract/genesis`)
  const info = await coordinatorJson<EpochInfoJson>(`${base}/contract/epoch`)
  const known = await knownMembers(base, genesis)
  let name = opts.name
  if (name == null) {
    const taken = new Set(known.map((m) => m.name))
    // a folder left by an earlier join counts as taken too
    for (name = freeNodeName(taken); await pathExists(join(opts.out, name)); name = freeNodeName(taken)) taken.add(name)
  }
  // a new identity and wiped data under a running node would leave it with neither
  if (opts.force) refuseWhileRunning(resolve(opts.out, name, NODE_CONFIG_FILE))
  const ports = opts.basePort != null ? { p2p: opts.basePort, http: opts.basePort + 1 } : nextPorts(known.flatMap((m) => m.multiaddrs ?? []))
  const result = await joinNetwork({
    out: opts.out, name, coordinatorUrl: base, genesis: genesis.committee, mixnodes: info.parameters.mixnodes, host: opts.host, p2pPort: ports.p2p, httpPort: ports.http, force: opts.force
  })
  return { result, mixnodes: info.parameters.mixnodes }
}
