import { join, resolve } from 'node:path'
import { describeCommand, processesWithConfig } from '../../cluster/processes.js'
import { joinNetwork, NODE_CONFIG_FILE, type JoinResult } from '../../config/generate.js'
import type { GenesisRound } from '../../contract/store.js'
import type { MembershipViewJson } from '../../epochs/membership-requests.js'
import type { CommitteeMemberJson } from '../../epochs/record.js'
import type { EpochInfoJson } from '../../rewards/coordinator-client.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { pathExists } from '../../util/fs.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { printJson, println } from '../output.js'

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

export interface JoinCliOptions {
  join: string
  out: string
  name?: string
  /** p2p on it, HTTP on the next; undefined: after the ports the coordinator knows (nextPorts). */
  basePort?: number
  host: string
  force: boolean
  json: boolean
}

/** Everyone the coordinator knows: the genesis committee, and (when it serves them) the newest committee, the queue and staged admissions. */
async function knownMembers (base: string, genesis: GenesisRound): Promise<CommitteeMemberJson[]> {
  const view = await requestJson<MembershipViewJson>('GET', `${base}/contract/membership`).catch(() => undefined)
  return [...genesis.committee.members, ...(view?.latest.members ?? []), ...(view?.queue ?? []).map((q) => q.member), ...(view?.next ?? []).map((q) => q.member)]
}

/** Refuses --force while a process (on Linux, from /proc) runs with that config. */
function refuseWhileRunning (configFile: string): void {
  const running = processesWithConfig([configFile])
  if (running.length === 0) return
  const list = running.map(({ process: p }) => `${p.pid} (${describeCommand(p)})`).join(', ')
  throw new EphemeraError(ErrorCode.CLUSTER, `${configFile} is in use by pid ${list}; stop it first with \`kill ${running.map(({ process: p }) => p.pid).join(' ')}\`; refusing to replace its key and wipe its data`)
}

/** `ephemera init --join URL`: one validator's key, peers file and config for an existing network. */
export async function initJoin (opts: JoinCliOptions): Promise<void> {
  const base = nodeUrl(opts.join)
  const genesis = await requestJson<GenesisRound>('GET', `${base}/contract/genesis`)
  const info = await requestJson<EpochInfoJson>('GET', `${base}/contract/epoch`)
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
  if (opts.json) {
    printJson({ ...result, mixnodes: info.parameters.mixnodes, next: nextSteps(result) })
    return
  }
  println(`${result.name} (${result.peerId}) for the network of ${base}`)
  println(`  key     ${result.keyFile} (mode 0600)`)
  println(`  config  ${result.configFile} (p2p ${result.address}, HTTP ${result.httpUrl}, ${info.parameters.mixnodes} mixnodes)`)
  println(`  peers   ${result.peersFile} (the genesis committee: ${result.genesisMembers} members)`)
  println('next: start the node, then ask to join the committee:')
  for (const step of nextSteps(result)) println(`  ${step}`)
}

function nextSteps (result: JoinResult): string[] {
  return [`ephemera node run --config ${result.configFile}`, `ephemera validator join --config ${result.configFile}`]
}
