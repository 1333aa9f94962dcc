import { ByteReader, ByteWriter, compareBytes } from '../codec/bytes.js'
import { sha256 } from '../crypto/hash.js'
import { merkleRoot } from '../crypto/merkle.js'
import { BLOCK_VERSION, type Block, type BlockHeader, type ClientMessage } from './types.js'

/**
 * The exact bytes that are hashed and signed. docs/PROTOCOL.md §2 specifies each layout;
 * test/unit/block/vectors.test.ts pins them with test vectors. Never change a layout without
 * bumping its tag.
 */

export const TAGS = {
  message: 'ephemera/message/v1',
  messageId: 'ephemera/message-id/v1',
  header: 'ephemera/block/v1',
  propose: 'ephemera/propose/v1',
  ready: 'ephemera/ready/v1',
  membership: 'ephemera/membership/v1'
} as const

function writeSigning (w: ByteWriter, m: Pick<ClientMessage, 'timestamp' | 'label' | 'data'>): ByteWriter {
  return w.tag(TAGS.message).u64(m.timestamp).string16(m.label).bytes32(m.data)
}

/** What a client signs: tag ‖ u64 timestamp ‖ u16 len ‖ label ‖ u32 len ‖ data. */
export function messageSigningBytes (m: Pick<ClientMessage, 'timestamp' | 'label' | 'data'>): Uint8Array {
  return writeSigning(new ByteWriter(), m).finish()
}

/** Ids already computed, by message object: a node needs a message's id at every step (admission, proposal, block check, storage). */
const ids = new WeakMap<ClientMessage, Uint8Array>()

/**
 * A message's id: SHA-256(tag ‖ signing bytes ‖ public key ‖ signature), hashed from the writer's
 * own buffer (no second copy of the data), once per message object: messages are never changed once built.
 */
export function messageId (m: ClientMessage): Uint8Array {
  let id = ids.get(m)
  if (id == null) {
    id = sha256(writeSigning(new ByteWriter().tag(TAGS.messageId), m).bytes(m.publicKey).bytes(m.signature).view())
    ids.set(m, id)
  }
  return id
}

export const HEADER_BYTES = 1 + TAGS.header.length + 2 + 8 + 32 + 8 + 8 + 32 + 4 + 32

function check32 (value: Uint8Array, what: string): Uint8Array {
  if (value.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${value.length}`)
  return value
}

/** The canonical header: fixed size (HEADER_BYTES), big-endian. */
export function encodeHeader (h: BlockHeader): Uint8Array {
  check32(h.creator, 'creator')
  check32(h.membershipId, 'membershipId')
  check32(h.messagesRoot, 'messagesRoot')
  return new ByteWriter()
    .tag(TAGS.header)
    .u16(h.version)
    .u64(h.round)
    .bytes(h.creator)
    .u64(h.height)
    .u64(h.createdAt)
    .bytes(h.membershipId)
    .u32(h.messageCount)
    .bytes(h.messagesRoot)
    .finish()
}

/** Inverse of encodeHeader; throws RangeError on a malformed header. */
export function decodeHeader (bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_BYTES) throw new RangeError(`a header is ${HEADER_BYTES} bytes, got ${bytes.length}`)
  const r = new ByteReader(bytes)
  if (r.tag() !== TAGS.header) throw new RangeError('not a block header (wrong tag)')
  const header: BlockHeader = {
    version: r.u16(),
    round: r.u64(),
    creator: r.bytes(32),
    height: r.u64(),
    createdAt: r.u64(),
    membershipId: r.bytes(32),
    messageCount: r.u32(),
    messagesRoot: r.bytes(32)
  }
  if (header.version !== BLOCK_VERSION) throw new RangeError(`unsupported block version ${header.version}`)
  return header
}

/** Block hash = SHA-256 of the canonical header. */
export function blockHash (header: BlockHeader): Uint8Array {
  return sha256(encodeHeader(header))
}

export function messagesRoot (messages: readonly ClientMessage[]): Uint8Array {
  return merkleRoot(messages.map(messageId))
}

/** Proposal signature payload: tag ‖ u64 round ‖ creator ‖ block hash. */
export function proposalSigningBytes (round: number, creator: Uint8Array, hash: Uint8Array): Uint8Array {
  return new ByteWriter().tag(TAGS.propose).u64(round).bytes(check32(creator, 'creator')).bytes(check32(hash, 'block hash')).finish()
}

/** READY signature payload (a certificate is q of these): tag ‖ u64 round ‖ creator ‖ block hash. */
export function readySigningBytes (round: number, creator: Uint8Array, hash: Uint8Array): Uint8Array {
  return new ByteWriter().tag(TAGS.ready).u64(round).bytes(check32(creator, 'creator')).bytes(check32(hash, 'block hash')).finish()
}

/** Membership id: SHA-256(tag ‖ u32 n ‖ the members' 32-byte public keys in ascending byte order). */
export function membershipId (publicKeys: readonly Uint8Array[]): Uint8Array {
  const sorted = [...publicKeys].sort(compareBytes)
  const w = new ByteWriter().tag(TAGS.membership).u32(sorted.length)
  for (const key of sorted) w.bytes(key)
  return sha256(w.finish())
}

/** Assembles a block: computes count and Merkle root. */
export function buildBlock (fields: Omit<BlockHeader, 'version' | 'messageCount' | 'messagesRoot'>, messages: ClientMessage[]): Block {
  return {
    header: { version: BLOCK_VERSION, ...fields, messageCount: messages.length, messagesRoot: messagesRoot(messages) },
    messages
  }
}
