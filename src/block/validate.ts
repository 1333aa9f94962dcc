import { equalBytes, toHex } from '../codec/bytes.js'
import { messageId, messageSigningBytes, messagesRoot } from './encoding.js'
import { BLOCK_VERSION, LIMITS, type Block, type ClientMessage } from './types.js'

/** Ed25519 verification, injected: node:crypto on the node, @noble/ed25519 in portable code. */
export type VerifyFn = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean

const utf8 = new TextEncoder()

/** Structural checks and the signature of a client message; undefined when valid, else the reason. */
export function checkMessage (m: ClientMessage, verify: VerifyFn): string | undefined {
  if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) return 'timestamp must be a non-negative integer (ms)'
  if (utf8.encode(m.label).length > LIMITS.labelBytes) return `label is longer than ${LIMITS.labelBytes} bytes`
  if (m.data.length > LIMITS.dataBytes) return `data is larger than ${LIMITS.dataBytes} bytes`
  if (m.publicKey.length !== 32) return 'publicKey must be 32 bytes'
  if (m.signature.length !== 64) return 'signature must be 64 bytes'
  if (!verify(m.publicKey, messageSigningBytes(m), m.signature)) return 'signature does not verify'
  return undefined
}

export interface BlockContext {
  /** Member public keys, hex. */
  members: ReadonlySet<string>
  membershipId: Uint8Array
  verify: VerifyFn
}

/**
 * Everything a member checks before echoing a proposal, except the application's checkBlock:
 * version, creator membership, membership id, count and Merkle root, no duplicate messages, and
 * every message's signature. Undefined when valid, else the first failure.
 */
export function checkBlock (block: Block, ctx: BlockContext): string | undefined {
  const h = block.header
  if (h.version !== BLOCK_VERSION) return `unsupported block version ${h.version}`
  if (!ctx.members.has(toHex(h.creator))) return 'creator is not a member'
  if (!equalBytes(h.membershipId, ctx.membershipId)) return 'block was proposed under a different membership'
  if (h.round < 1 || h.height < 1) return 'round and height start at 1'
  if (block.messages.length !== h.messageCount) return `header says ${h.messageCount} messages, block has ${block.messages.length}`
  if (block.messages.length > LIMITS.messagesPerBlock) return `more than ${LIMITS.messagesPerBlock} messages`
  if (!equalBytes(messagesRoot(block.messages), h.messagesRoot)) return 'messagesRoot does not match the messages'
  const seen = new Set<string>()
  for (const [i, m] of block.messages.entries()) {
    const id = toHex(messageId(m))
    if (seen.has(id)) return `message ${i} is a duplicate`
    seen.add(id)
    const problem = checkMessage(m, ctx.verify)
    if (problem != null) return `message ${i}: ${problem}`
  }
  return undefined
}
