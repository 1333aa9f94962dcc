import { equalBytes, toHex } from '../codec/bytes.js'
import { blockHash, membershipId, messageId, messagesRoot, readySigningBytes } from './encoding.js'
import { peerIdOf } from './json.js'
import { checkMessage, type VerifyFn } from './validate.js'
import { BLOCK_VERSION, LIMITS, type Block, type Certificate } from './types.js'

/**
 * Verifies a certified block from public data alone: the block, its certificate and the
 * membership it was certified under. Used by `ephemera blocks verify`; portable (pass
 * verifyPortable). Every check is reported; `ok` only when all pass.
 */

export interface VerifyInput {
  block: Block
  /** The hash the block was published under. */
  claimedHash: Uint8Array
  certificate: Certificate
  /** Public keys of the members the block was certified under. */
  members: readonly Uint8Array[]
  verify: VerifyFn
}

export interface Check {
  name: string
  ok: boolean
  detail: string
}

export interface VerifyReport {
  ok: boolean
  checks: Check[]
  /** The first failed check, as one line. */
  failure?: string
  signers: number
  quorum: number
}

export function verifyCertifiedBlock (input: VerifyInput): VerifyReport {
  const { block, claimedHash, certificate, members, verify } = input
  const checks: Check[] = []
  const check = (name: string, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail })
    return ok
  }
  const h = block.header
  const n = members.length
  const f = Math.floor((n - 1) / 3)
  const q = n - f

  const headerProblem = h.version !== BLOCK_VERSION ? `version ${h.version}, expected ${BLOCK_VERSION}` : h.round < 1 || h.height < 1 ? `round ${h.round}, height ${h.height}: both start at 1` : undefined
  check('header fields', headerProblem == null, headerProblem ?? `version ${h.version}, round ${h.round}, height ${h.height}`)
  const hash = blockHash(h)
  check('block hash', equalBytes(hash, claimedHash), equalBytes(hash, claimedHash) ? toHex(hash) : `header hashes to ${toHex(hash)}, published as ${toHex(claimedHash)}`)
  const root = messagesRoot(block.messages)
  check('message count', h.messageCount === block.messages.length, `header says ${h.messageCount}, block has ${block.messages.length}`)
  check('Merkle root', equalBytes(root, h.messagesRoot), equalBytes(root, h.messagesRoot) ? toHex(root) : `messages give ${toHex(root)}, header says ${toHex(h.messagesRoot)}`)
  const ids = block.messages.map((m) => toHex(messageId(m)))
  const duplicate = ids.findIndex((id, i) => ids.indexOf(id) !== i)
  check('distinct messages', duplicate < 0 && block.messages.length <= LIMITS.messagesPerBlock, duplicate >= 0 ? `message ${duplicate} repeats message ${ids.indexOf(ids[duplicate] as string)}` : block.messages.length > LIMITS.messagesPerBlock ? `more than ${LIMITS.messagesPerBlock} messages` : `${ids.length} distinct`)
  const badMessage = block.messages.map((m, i) => [i, checkMessage(m, verify)] as const).find(([, problem]) => problem != null)
  check('message signatures', badMessage == null, badMessage == null ? `${block.messages.length} valid` : `message ${badMessage[0]}: ${badMessage[1] ?? ''}`)

  const memberIds = new Set(members.map(toHex))
  const mid = membershipId(members)
  check('membership', equalBytes(mid, h.membershipId), equalBytes(mid, h.membershipId) ? `${n} members, f = ${f}, quorum ${q}` : `the ${n} members given hash to ${toHex(mid)}, the header was proposed under ${toHex(h.membershipId)}`)
  check('creator is a member', memberIds.has(toHex(h.creator)), peerIdOf(h.creator))
  const binds = equalBytes(certificate.blockHash, hash) && certificate.round === h.round && equalBytes(certificate.creator, h.creator)
  check('certificate is for this block', binds, binds ? `round ${h.round}` : 'certificate names another block, round or creator')

  const payload = readySigningBytes(h.round, h.creator, hash)
  const valid = new Set<string>()
  let sigProblem: string | undefined
  for (const [i, s] of certificate.signatures.entries()) {
    const signer = toHex(s.signer)
    let problem: string | undefined
    if (s.signer.length !== 32) problem = 'signer is not a 32-byte key'
    else if (!memberIds.has(signer)) problem = 'signer is not a member'
    else if (valid.has(signer)) problem = 'duplicate signer'
    else if (!verify(s.signer, payload, s.signature)) problem = 'signature does not verify'
    if (problem == null) valid.add(signer)
    else sigProblem ??= `signature ${i} (by ${s.signer.length === 32 ? peerIdOf(s.signer) : signer}): ${problem}`
  }
  check('certificate signatures', sigProblem == null, sigProblem ?? `${valid.size} valid`)
  check('quorum', valid.size >= q, `${valid.size} distinct members signed, quorum is ${q} of ${n}`)

  const failed = checks.find((c) => !c.ok)
  return { ok: failed == null, checks, failure: failed == null ? undefined : `${failed.name}: ${failed.detail}`, signers: valid.size, quorum: q }
}
