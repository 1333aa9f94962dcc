import type { Member } from '../../../src/config/index.js'
import { freePortBlock } from '../../helpers/ports.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { Membership } from '../../../src/network/membership.js'
import { Network, type NetworkOptions } from '../../../src/network/network.js'
import { silentLogger, type Logger } from '../../../src/util/logger.js'

/** Real libp2p hosts on loopback for the network tests: a free port each, one membership, one Network per member. */

export async function until (check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/**
 * `count` members (node1 …) and a Network (not started) for each; `options(i)` gives member i's
 * network options beyond its listen address, `logger(i)` its logger (default silent).
 */
export async function memberNetworks (count: number, options: (i: number) => Omit<NetworkOptions, 'listen'>, logger: (i: number) => Logger = () => silentLogger()): Promise<{ members: Member[], networks: Network[] }> {
  const keys = Array.from({ length: count }, () => NodeKey.generate())
  // below the ephemeral range: a port the OS handed out and the test released could otherwise be
  // taken, before the host listens, as the source port of an outgoing connection of a parallel test
  const base = await freePortBlock(count)
  const ports = keys.map((_, i) => base + i)
  const members: Member[] = keys.map((k, i) => ({ name: `node${i + 1}`, peerId: k.peerId.toString(), address: `/ip4/127.0.0.1/tcp/${ports[i]!}` }))
  const networks = await Promise.all(keys.map(async (key, i) => await Network.create({ listen: members[i]!.address, ...options(i) },
    { key, membership: new Membership(members, key.peerId.toString()), logger: logger(i) })))
  return { members, networks }
}
