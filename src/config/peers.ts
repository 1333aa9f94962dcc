import * as z from 'zod'
import { readTomlFile, toToml } from './toml.js'
import { resolveLayers } from './loader.js'
import { nameField, peerIdField, tcpMultiaddrField } from './fields.js'
import { ConfigError } from '../util/errors.js'
import { writeFileAtomic } from '../util/fs.js'

/** The peers file: every member of the validator set (name, PeerId, multiaddr). */
export const peersFileSchema = z.strictObject({
  members: z.array(z.strictObject({
    name: nameField,
    peer_id: peerIdField,
    address: tcpMultiaddrField
  })).min(1, 'must list at least one member')
}).superRefine((file, ctx) => {
  const seen = { name: new Map<string, number>(), peer_id: new Map<string, number>(), address: new Map<string, number>() }
  file.members.forEach((member, index) => {
    for (const key of ['name', 'peer_id', 'address'] as const) {
      const previous = seen[key].get(member[key])
      if (previous != null) {
        ctx.addIssue({ code: 'custom', path: ['members', index, key], message: `duplicate of members[${previous}].${key} "${member[key]}"` })
      } else {
        seen[key].set(member[key], index)
      }
    }
  })
})

export interface Member {
  readonly name: string
  readonly peerId: string
  readonly address: string
}

export async function loadPeersFile (path: string): Promise<Member[]> {
  const values = await readTomlFile(path)
  const source = { kind: 'file' as const, path }
  const { config } = resolveLayers(peersFileSchema, [{ source, values }], { primary: source })
  return config.members.map((m) => ({ name: m.name, peerId: m.peer_id, address: m.address }))
}

export function peersFileText (members: readonly Member[]): string {
  if (members.length === 0) throw new ConfigError('a peers file needs at least one member')
  const header = '# ephemera peers file: every member of the validator set.\n# Each node refuses connections from PeerIds not listed here.\n\n'
  return header + toToml({ members: members.map((m) => ({ name: m.name, peer_id: m.peerId, address: m.address })) }) + '\n'
}

export async function writePeersFile (path: string, members: readonly Member[]): Promise<void> {
  await writeFileAtomic(path, peersFileText(members))
}
