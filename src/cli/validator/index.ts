import { Command } from 'commander'
import { multiaddr } from '@multiformats/multiaddr'
import { dialableAddresses, loadNodeConfig, type NodeConfig } from '../../config/index.js'
import { readKeyFile, type NodeKey } from '../../crypto/keys.js'
import type { JoinBody, QueueAnswerJson } from '../../epochs/membership-requests.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { nodeUrl, signedPostJson } from '../http-client.js'
import { collect, printJson, println } from '../output.js'

const UNSPECIFIED_HOSTS = new Set(['0.0.0.0', '::'])

/**
 * The multiaddrs a validator registers: each address (p2p.announce or p2p.listen, or the --announce ones) with
 * `/p2p/<peerId>` appended (kept when already there and naming this PeerId). An unspecified host
 * (0.0.0.0, ::) is refused: nobody can dial it.
 */
export function announcedMultiaddrs (addresses: readonly string[], peerId: string): string[] {
  return addresses.map((address) => {
    let components
    try {
      components = multiaddr(address).getComponents()
    } catch {
      throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `"${address}" is not a valid multiaddr`)
    }
    const host = components[0]?.value
    if (host != null && UNSPECIFIED_HOSTS.has(host)) {
      throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `${address} is an address to listen on, not one others can dial: set p2p.announce (or pass --announce) to this node's reachable address, e.g. /ip4/203.0.113.7/tcp/4001`)
    }
    const p2p = components.find((c) => c.name === 'p2p')
    if (p2p == null) return `${address.replace(/\/$/, '')}/p2p/${peerId}`
    if (p2p.value !== peerId) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `${address} names PeerId ${p2p.value ?? ''}, but this node's key is ${peerId}`)
    return address
  })
}

/** One line per answer of POST /contract/queue and /contract/queue/leave. */
export function describeQueueAnswer (name: string, coordinator: string, answer: QueueAnswerJson): string {
  switch (answer.status) {
    case 'queued': return `${name} queued at position ${answer.position ?? '?'} at ${coordinator}`
    case 'staged': return `${name} is staged at ${coordinator}: admitted by the next committee change, in force two epochs after the commit that decides it`
    case 'member': return `${name} is a member of the committee at ${coordinator} (nothing to do)`
    case 'unqueued': return `${name} left the queue at ${coordinator}`
    case 'leaving': return `${name} leaves the committee at the next change (${coordinator})`
  }
}

interface ValidatorOptions {
  config: string
  announce?: string[]
  json: boolean
}

async function loadValidator (configFile: string): Promise<{ config: NodeConfig, key: NodeKey, coordinator: string }> {
  const config = await loadNodeConfig(configFile)
  if (config.coordinator_url == null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `${configFile} has no coordinator_url: set it to the coordinator's URL`)
  return { config, key: await readKeyFile(config.key_file), coordinator: nodeUrl(config.coordinator_url) }
}

async function request (opts: ValidatorOptions, path: string, body: (config: NodeConfig, key: NodeKey) => JoinBody | Record<string, never>): Promise<void> {
  const { config, key, coordinator } = await loadValidator(opts.config)
  const answer = await signedPostJson<QueueAnswerJson>(coordinator, path, body(config, key), key)
  if (opts.json) printJson({ name: config.name, peerId: key.peerId.toString(), coordinator, ...answer })
  else println(describeQueueAnswer(config.name, coordinator, answer))
}

export function validatorCommand (): Command {
  const validator = new Command('validator').description('ask the coordinator to let this node into the committee, or out of it')
  validator.command('join')
    .description('queue this node to join the committee (signed with its key)')
    .requiredOption('--config <file>', 'the node\'s config file (name, key_file, p2p.listen, coordinator_url)')
    .option('--announce <multiaddr>', 'an address others dial this node on, instead of p2p.announce or p2p.listen (repeatable)', collect)
    .option('--json', 'print the coordinator\'s answer as JSON', false)
    .addHelpText('after', `
Sends POST /contract/queue {name, multiaddrs} to the config's coordinator_url, signed with the
node's key. multiaddrs: p2p.announce, or p2p.listen when it is empty (or each --announce), with
/p2p/<PeerId> appended.
Answers: queued at position P; staged (admitted by the next committee change); or already a member.
The coordinator admits from the queue in order while the committee is below membership.max_committee;
a change is decided with the commit of an epoch's record and is in force two epochs later.
Refusals: ERR_FORBIDDEN (not on the coordinator's allowlist), ERR_BANNED, ERR_QUEUE_FULL.
Asking again is harmless: it updates the name and addresses.

Example:
  ephemera validator join --config ./net/node5/config.toml`)
    .action(async (opts: ValidatorOptions) => {
      await request(opts, '/contract/queue', (config, key) => ({ name: config.name, multiaddrs: announcedMultiaddrs(opts.announce ?? dialableAddresses(config), key.peerId.toString()) }))
    })
  validator.command('leave')
    .description('leave the queue, or the committee at its next change (signed with the node\'s key)')
    .requiredOption('--config <file>', 'the node\'s config file (key_file, coordinator_url)')
    .option('--json', 'print the coordinator\'s answer as JSON', false)
    .addHelpText('after', `
Sends POST /contract/queue/leave to the config's coordinator_url, signed with the node's key.
A queued or staged validator leaves the queue at once (unqueued); a member leaves the committee at
the next change (leaving), and should keep running until that change is in force.
Refusals: ERR_COMMITTEE_SIZE (the committee would go below membership.min_committee),
ERR_NOT_FOUND (neither queued nor a member).`)
    .action(async (opts: ValidatorOptions) => { await request(opts, '/contract/queue/leave', () => ({})) })
  return validator
}
