/**
 * Deterministic keys, signed client messages and certified blocks for the block, storage and API
 * unit tests.
 */
import { blockHash, buildBlock, membershipId, messageSigningBytes, readySigningBytes } from '../../../src/block/encoding.js'
import type { Block, Certificate, ClientMessage } from '../../../src/block/types.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { toHex } from '../../../src/codec/bytes.js'

const keys = new Map<number, NodeKey>()

/** A deterministic key: seed = 32 × `seedByte`. */
export function key (seedByte: number): NodeKey {
  let k = keys.get(seedByte)
  if (k == null) {
    k = NodeKey.fromSeed(new Uint8Array(32).fill(seedByte))
    keys.set(seedByte, k)
  }
  return k
}

/** `n` member keys with seed bytes 0x41, 0x42, … */
export function members (n: number): NodeKey[] {
  return Array.from({ length: n }, (_, i) => key(0x41 + i))
}

const utf8 = new TextEncoder()

export function signedMessage (signer: NodeKey, fields: { timestamp?: number, label?: string, data?: Uint8Array | string } = {}): ClientMessage {
  const body = {
    timestamp: fields.timestamp ?? 1_700_000_000_000,
    label: fields.label ?? 'label',
    data: typeof fields.data === 'string' ? utf8.encode(fields.data) : fields.data ?? utf8.encode('data')
  }
  return { ...body, publicKey: signer.publicKey, signature: signer.sign(messageSigningBytes(body)) }
}

export interface Certified {
  block: Block
  hash: Uint8Array
  certificate: Certificate
  members: NodeKey[]
  membershipId: Uint8Array
}

/** A block by `members[creator]` carrying `messages`, with READY signatures by `signers` (indexes into members). */
export function certifiedBlock (opts: { members: NodeKey[], creator?: number, round?: number, height?: number, createdAt?: number, messages?: ClientMessage[], signers?: number[] }): Certified {
  const creator = opts.members[opts.creator ?? 0] as NodeKey
  const mid = membershipId(opts.members.map((k) => k.publicKey))
  const round = opts.round ?? 1
  const block = buildBlock({ round, creator: creator.publicKey, height: opts.height ?? round, createdAt: opts.createdAt ?? 1_700_000_000_000 + round, membershipId: mid }, opts.messages ?? [])
  const hash = blockHash(block.header)
  const payload = readySigningBytes(round, creator.publicKey, hash)
  const signers = opts.signers ?? opts.members.map((_, i) => i)
  const certificate: Certificate = {
    round,
    creator: creator.publicKey,
    blockHash: hash,
    signatures: signers.map((i) => { const k = opts.members[i] as NodeKey; return { signer: k.publicKey, signature: k.sign(payload) } })
  }
  return { block, hash, certificate, members: opts.members, membershipId: mid }
}

/** Bytes as hex, recursively: compares structures holding Uint8Arrays by value. */
export function norm (value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value)
  if (Array.isArray(value)) return value.map(norm)
  if (value != null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]))
  return value
}
