import { type Command, InvalidArgumentError } from 'commander'
import { toHex } from '../../codec/bytes.js'
import { publicKeyFromPeerId, readKeyFile } from '../../crypto/keys.js'
import { EphemeraError, ErrorCode, isEphemeraError } from '../../util/errors.js'
import { nodeUrl, signedPostJson } from '../http-client.js'
import { printJson, println } from '../output.js'

interface BanAnswer {
  status: 'banned' | 'unbanned'
  ban: { member: { name: string, publicKey: string }, by: string, reason: string, epoch: number, evidenceHash?: string }
}

interface AdminOptions {
  contract: string
  adminKey: string
  publicKey?: string
  reason?: string
  json: boolean
}

/** --public-key: 64 hex digits, or an Ed25519 PeerId (12D3KooW…), as lower-case hex. */
export function publicKeyOption (value: string): string {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return value.toLowerCase()
  try {
    return toHex(publicKeyFromPeerId(value))
  } catch {
    throw new InvalidArgumentError('expected a public key (64 hex digits, as `ephemera keys show FILE` prints it) or a PeerId.')
  }
}

/** A signed POST to an operator route; a refusal of the signer says which key the coordinator expects. */
async function adminPost<T> (opts: AdminOptions, path: string, body: Record<string, string>): Promise<T> {
  const key = await readKeyFile(opts.adminKey)
  try {
    return await signedPostJson<T>(nodeUrl(opts.contract), path, body, key)
  } catch (err) {
    if (isEphemeraError(err) && err.details.status === 403 && err.details.code === ErrorCode.FORBIDDEN) {
      throw new EphemeraError(ErrorCode.FORBIDDEN, `${opts.contract} refused ${path}: ${opts.adminKey} (public key ${toHex(key.publicKey)}) is not its operator key (membership.admin_public_key in its config; \`ephemera init\` writes the key as coordinator/admin.key)`)
    }
    throw err
  }
}

function describeBan (answer: BanAnswer): string {
  const { ban } = answer
  const who = `${ban.member.name} (${ban.member.publicKey.slice(0, 16)}…)`
  return answer.status === 'banned'
    ? `banned ${who}: ${ban.reason}; its requests are refused from now on, and a member leaves the committee at the next change`
    : `unbanned ${who} (it was banned by ${ban.by}: ${ban.reason}); it may queue again`
}

const ADMIN_HELP = `
Signed with the operator's key (--admin-key: a key file like a node's, whose public key is
membership.admin_public_key in the coordinator's config; \`ephemera init\` writes it as
DIR/coordinator/admin.key). Any other signer is refused with ERR_FORBIDDEN.`

/** `ephemera contract lock|unlock|ban|unban`: the operator's controls of the living committee. */
export function addAdminCommands (contract: Command): void {
  const admin = (name: string, description: string, help: string): Command => contract.command(name)
    .description(description)
    .requiredOption('--contract <url>', 'coordinator URL')
    .requiredOption('--admin-key <file>', 'the operator\'s key file (mode 0600)')
    .option('--json', 'print the coordinator\'s answer as JSON', false)
    .addHelpText('after', help + ADMIN_HELP)
  for (const locked of [true, false]) {
    admin(locked ? 'lock' : 'unlock',
      locked ? 'manual lock: the coordinator commits no epoch (and so decides no committee change) until unlocked' : 'lift the manual lock: complete rounds commit again',
      locked
        ? '\nWhile locked, rounds stay open: leases, contributions and verifications are still taken, and\nan epoch still fails at its finalization deadline. Unlock commits the complete rounds.'
        : '\nThe rounds that completed while locked commit at the coordinator\'s next tick.')
      .action(async (opts: AdminOptions) => {
        const answer = await adminPost<{ locked: boolean }>(opts, `/contract/admin/${locked ? 'lock' : 'unlock'}`, {})
        if (opts.json) printJson(answer)
        else println(answer.locked ? `locked: ${opts.contract} commits no epoch until \`ephemera contract unlock\`` : `unlocked: ${opts.contract} commits epochs again`)
      })
  }
  admin('ban', 'ban a key: its requests are refused, and a member leaves the committee at the next change',
    '\nA ban applies even below membership.min_committee. It is kept until `ephemera contract unban`.')
    .requiredOption('--public-key <hex>', 'the key to ban (64 hex digits, or a PeerId)', publicKeyOption)
    .requiredOption('--reason <text>', 'why (kept with the ban and shown by `ephemera contract status`)')
    .action(async (opts: AdminOptions) => {
      const answer = await adminPost<BanAnswer>(opts, '/contract/admin/ban', { publicKey: opts.publicKey as string, reason: opts.reason as string })
      if (opts.json) printJson(answer)
      else println(describeBan(answer))
    })
  admin('unban', 'lift a ban (by evidence, drops or the operator): the key may queue again',
    '\nA ban not yet applied by a committee change is withdrawn: the member stays. Its drop count is reset.')
    .requiredOption('--public-key <hex>', 'the banned key (64 hex digits, or a PeerId)', publicKeyOption)
    .action(async (opts: AdminOptions) => {
      const answer = await adminPost<BanAnswer>(opts, '/contract/admin/unban', { publicKey: opts.publicKey as string })
      if (opts.json) printJson(answer)
      else println(describeBan(answer))
    })
}
