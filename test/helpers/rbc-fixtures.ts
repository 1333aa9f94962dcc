/**
 * Shared fixtures for the reliable-broadcast tests (test/unit/broadcast, test/sim): deterministic
 * keys, the test RbcCrypto, blocks, signed messages and effect helpers.
 */
import { blockHash, buildBlock, membershipId, messagesRoot, proposalSigningBytes, readySigningBytes } from '../../src/block/encoding.js'
import type { Block, ReadySignature } from '../../src/block/types.js'
import { RbcMachine, type Effect, type PersistedVote, type RbcCrypto, type RbcLimits, type RbcMessage, type RestoredState } from '../../src/broadcast/machine.js'
import { equalBytes, toHex } from '../../src/codec/bytes.js'
import { NodeKey, verifySignature } from '../../src/crypto/keys.js'

const keyCache = new Map<string, NodeKey>()

/** A deterministic key: the seed encodes (domain, index). Domain 0 = members; others = outsiders. */
export function testKey (index: number, domain = 0): NodeKey {
  const id = `${domain}:${index}`
  let key = keyCache.get(id)
  if (key == null) {
    const seed = new Uint8Array(32)
    seed[0] = 0xeb
    seed[1] = domain & 0xff
    new DataView(seed.buffer).setUint32(2, index)
    seed[31] = 0x5a
    key = NodeKey.fromSeed(seed)
    keyCache.set(id, key)
  }
  return key
}

export function testKeys (n: number, domain = 0): NodeKey[] {
  return Array.from({ length: n }, (_, i) => testKey(i, domain))
}

/** The block hash a correct node computes: undefined when count or Merkle root do not match. */
export function checkedBlockHash (block: Block): Uint8Array | undefined {
  if (block.header.messageCount !== block.messages.length) return undefined
  if (!equalBytes(messagesRoot(block.messages), block.header.messagesRoot)) return undefined
  return blockHash(block.header)
}

export function rbcCrypto (key: NodeKey): RbcCrypto {
  return {
    verifyProposal: (creator, round, hash, signature) => verifySignature(creator, proposalSigningBytes(round, creator, hash), signature),
    verifyReady: (signer, round, creator, hash, signature) => verifySignature(signer, readySigningBytes(round, creator, hash), signature),
    signReady: (round, creator, hash) => key.sign(readySigningBytes(round, creator, hash)),
    blockHash: checkedBlockHash
  }
}

export function newMachine (keys: readonly NodeKey[], self: number, persisted?: PersistedVote[], decided?: RestoredState['decided'], limits?: Partial<RbcLimits>): RbcMachine {
  const key = keys[self] as NodeKey
  return new RbcMachine({ members: keys.map((k) => k.publicKey), self: key.publicKey, crypto: rbcCrypto(key), persisted, restored: { decided }, limits })
}

/** An empty block; two blocks of one (round, creator) differ by `createdAt`. */
export function makeBlock (members: readonly NodeKey[], creator: NodeKey, round: number, createdAt = 1000): Block {
  return buildBlock({ round, creator: creator.publicKey, height: round, createdAt, membershipId: membershipId(members.map((k) => k.publicKey)) }, [])
}

export interface SignedProposal {
  block: Block
  hash: Uint8Array
  signature: Uint8Array
  message: Extract<RbcMessage, { type: 'propose' }>
}

/** A block and its PROPOSE, signed by `signer` (the creator unless a forgery is wanted). */
export function proposal (members: readonly NodeKey[], creator: NodeKey, round: number, createdAt = 1000, signer: NodeKey = creator): SignedProposal {
  const block = makeBlock(members, creator, round, createdAt)
  const hash = blockHash(block.header)
  const signature = signer.sign(proposalSigningBytes(round, creator.publicKey, hash))
  return { block, hash, signature, message: { type: 'propose', block, hash, signature } }
}

export function echoMsg (round: number, creator: Uint8Array, hash: Uint8Array): RbcMessage {
  return { type: 'echo', round, creator, hash }
}

/** A READY signed by `signer` (a valid one when the sender is `signer`). */
export function readyMsg (signer: NodeKey, round: number, creator: Uint8Array, hash: Uint8Array): RbcMessage {
  return { type: 'ready', round, creator, hash, signature: signer.sign(readySigningBytes(round, creator, hash)) }
}

export function ofType<T extends Effect['type']> (effects: readonly Effect[], type: T): Array<Extract<Effect, { type: T }>> {
  return effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type)
}

/** READY broadcasts among effects (optionally only those for `hash`). */
export function readyBroadcasts (effects: readonly Effect[], hash?: Uint8Array): Array<Extract<RbcMessage, { type: 'ready' }>> {
  const out: Array<Extract<RbcMessage, { type: 'ready' }>> = []
  for (const e of effects) {
    if (e.type === 'broadcast' && e.message.type === 'ready' && (hash == null || equalBytes(e.message.hash, hash))) out.push(e.message)
  }
  return out
}

export function echoBroadcasts (effects: readonly Effect[], hash?: Uint8Array): Array<Extract<RbcMessage, { type: 'echo' }>> {
  const out: Array<Extract<RbcMessage, { type: 'echo' }>> = []
  for (const e of effects) {
    if (e.type === 'broadcast' && e.message.type === 'echo' && (hash == null || equalBytes(e.message.hash, hash))) out.push(e.message)
  }
  return out
}

/**
 * Checks a delivery certificate: at least q signatures by distinct members, each valid over
 * readySigningBytes(round, creator, hash). Returns a description of the first problem, or undefined.
 */
export function certificateProblem (round: number, creator: Uint8Array, hash: Uint8Array, signatures: readonly ReadySignature[], members: readonly Uint8Array[], q: number): string | undefined {
  const memberHex = new Set(members.map(toHex))
  const signers = new Set<string>()
  for (const { signer, signature } of signatures) {
    const s = toHex(signer)
    if (!memberHex.has(s)) return `signer ${s} is not a member`
    if (signers.has(s)) return `signer ${s} appears twice`
    if (!verifySignature(signer, readySigningBytes(round, creator, hash), signature)) return `bad READY signature by ${s}`
    signers.add(s)
  }
  if (signers.size < q) return `only ${signers.size} signatures, q = ${q}`
  return undefined
}

/** A JSON-comparable form of any value (bytes as hex), for comparing effect lists. */
export function canon (value: unknown): unknown {
  if (value instanceof Uint8Array) return `0x${toHex(value)}`
  if (Array.isArray(value)) return value.map(canon)
  if (value != null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canon(v)]))
  }
  return value
}
