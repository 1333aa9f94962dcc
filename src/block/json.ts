import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import * as z from 'zod'
import { fromBase64, fromHex, toBase64, toHex } from '../codec/bytes.js'
import { messageId } from './encoding.js'
import { LIMITS, type Block, type BlockHeader, type Certificate, type ClientMessage } from './types.js'

/**
 * JSON forms used by the HTTP API and the CLI: hashes, keys and signatures as lower-case hex,
 * message data as base64, creators and signers also as PeerIds. Parsers are strict and report the
 * first problem as a string (callers turn it into a 400 or a verification failure).
 */

export function peerIdOf (publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString()
}

export interface MessageJson {
  id: string
  timestamp: number
  label: string
  data: string
  publicKey: string
  signature: string
}

export interface HeaderJson {
  version: number
  round: number
  creator: string
  creatorPublicKey: string
  height: number
  createdAt: number
  membershipId: string
  messageCount: number
  messagesRoot: string
}

export interface BlockJson {
  hash: string
  header: HeaderJson
  messages: MessageJson[]
}

export interface CertificateJson {
  blockHash: string
  round: number
  creator: string
  creatorPublicKey: string
  signatures: Array<{ signer: string, publicKey: string, signature: string }>
}

export function messageToJson (m: ClientMessage): MessageJson {
  return { id: toHex(messageId(m)), timestamp: m.timestamp, label: m.label, data: toBase64(m.data), publicKey: toHex(m.publicKey), signature: toHex(m.signature) }
}

export function headerToJson (h: BlockHeader): HeaderJson {
  return {
    version: h.version,
    round: h.round,
    creator: peerIdOf(h.creator),
    creatorPublicKey: toHex(h.creator),
    height: h.height,
    createdAt: h.createdAt,
    membershipId: toHex(h.membershipId),
    messageCount: h.messageCount,
    messagesRoot: toHex(h.messagesRoot)
  }
}

export function blockToJson (block: Block, hash: Uint8Array): BlockJson {
  return { hash: toHex(hash), header: headerToJson(block.header), messages: block.messages.map(messageToJson) }
}

export function certificateToJson (c: Certificate): CertificateJson {
  return {
    blockHash: toHex(c.blockHash),
    round: c.round,
    creator: peerIdOf(c.creator),
    creatorPublicKey: toHex(c.creator),
    signatures: c.signatures.map((s) => ({ signer: peerIdOf(s.signer), publicKey: toHex(s.signer), signature: toHex(s.signature) }))
  }
}

const hexField = (bytes: number) => z.string().refine((v) => fromHex(v, bytes) != null, `must be ${bytes} bytes of hex`)
const u64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

export const messageInputSchema = z.object({
  timestamp: u64,
  label: z.string(),
  data: z.string().refine((v) => fromBase64(v) != null, 'must be standard base64'),
  publicKey: hexField(32),
  signature: hexField(64)
})

const headerSchema = z.object({
  version: z.number().int().min(0).max(0xffff),
  round: u64,
  creatorPublicKey: hexField(32),
  height: u64,
  createdAt: u64,
  membershipId: hexField(32),
  messageCount: z.number().int().min(0).max(LIMITS.messagesPerBlock),
  messagesRoot: hexField(32)
})

const blockSchema = z.object({ hash: hexField(32), header: headerSchema, messages: z.array(messageInputSchema).max(LIMITS.messagesPerBlock) })

const certificateSchema = z.object({
  blockHash: hexField(32),
  round: u64,
  creatorPublicKey: hexField(32),
  signatures: z.array(z.object({ publicKey: hexField(32), signature: hexField(64) }))
})

function firstProblem (error: z.ZodError): string {
  const issue = error.issues[0]
  return issue == null ? 'invalid' : `${issue.path.join('.') || '(body)'}: ${issue.message}`
}

export type Parsed<T> = { ok: true, value: T } | { ok: false, error: string }

export function messageFromJson (value: unknown): Parsed<ClientMessage> {
  const r = messageInputSchema.safeParse(value)
  if (!r.success) return { ok: false, error: firstProblem(r.error) }
  const m = r.data
  return { ok: true, value: { timestamp: m.timestamp, label: m.label, data: fromBase64(m.data) as Uint8Array, publicKey: fromHex(m.publicKey) as Uint8Array, signature: fromHex(m.signature) as Uint8Array } }
}

/** Block JSON → block and the hash it claims (the caller recomputes and compares). */
export function blockFromJson (value: unknown): Parsed<{ block: Block, claimedHash: Uint8Array }> {
  const r = blockSchema.safeParse(value)
  if (!r.success) return { ok: false, error: firstProblem(r.error) }
  const messages: ClientMessage[] = []
  for (const m of r.data.messages) {
    const parsed = messageFromJson(m)
    if (!parsed.ok) return parsed
    messages.push(parsed.value)
  }
  const h = r.data.header
  return {
    ok: true,
    value: {
      claimedHash: fromHex(r.data.hash) as Uint8Array,
      block: {
        header: { version: h.version, round: h.round, creator: fromHex(h.creatorPublicKey) as Uint8Array, height: h.height, createdAt: h.createdAt, membershipId: fromHex(h.membershipId) as Uint8Array, messageCount: h.messageCount, messagesRoot: fromHex(h.messagesRoot) as Uint8Array },
        messages
      }
    }
  }
}

export function certificateFromJson (value: unknown): Parsed<Certificate> {
  const r = certificateSchema.safeParse(value)
  if (!r.success) return { ok: false, error: firstProblem(r.error) }
  return {
    ok: true,
    value: {
      blockHash: fromHex(r.data.blockHash) as Uint8Array,
      round: r.data.round,
      creator: fromHex(r.data.creatorPublicKey) as Uint8Array,
      signatures: r.data.signatures.map((s) => ({ signer: fromHex(s.publicKey) as Uint8Array, signature: fromHex(s.signature) as Uint8Array }))
    }
  }
}
