import type { JoinResult } from '../../config/generate.js'
import { prepareJoin } from '../../cluster/join.js'
import { nodeUrl } from '../http-client.js'
import { printJson, println } from '../output.js'

export { freeNodeName, nextPorts } from '../../cluster/join.js'

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

/** `ephemera init --join URL`: one validator's key, peers file and config for an existing network. */
export async function initJoin (opts: JoinCliOptions): Promise<void> {
  const base = nodeUrl(opts.join)
  const { result, mixnodes } = await prepareJoin({ url: base, out: opts.out, name: opts.name, basePort: opts.basePort, host: opts.host, force: opts.force })
  if (opts.json) {
    printJson({ ...result, mixnodes: mixnodes, next: nextSteps(result) })
    return
  }
  println(`${result.name} (${result.peerId}) for the network of ${base}`)
  println(`  key     ${result.keyFile} (mode 0600)`)
  println(`  config  ${result.configFile} (p2p ${result.address}, HTTP ${result.httpUrl}, ${mixnodes} mixnodes)`)
  println(`  peers   ${result.peersFile} (the genesis committee: ${result.genesisMembers} members)`)
  println('next: start the node, then ask to join the committee:')
  for (const step of nextSteps(result)) println(`  ${step}`)
}

function nextSteps (result: JoinResult): string[] {
  return [`ephemera node run --config ${result.configFile}`, `ephemera validator join --config ${result.configFile}`]
}
