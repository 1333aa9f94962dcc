import { cborLength, decodeCbor, DecodeError, encodeCbor, shape } from '../codec/cbor.js'
import { blockHash } from '../block/encoding.js'
import { blockFromWire, blockToWire, certificateFromWire, certificateToWire } from '../block/wire.js'
import { LIMITS, type Block, type Certificate } from '../block/types.js'
import type { RbcMessage } from './machine.js'

/**
 * RBC wire frames (docs/PROTOCOL.md §4), one length-prefixed CBOR frame each way per stream:
 *
 *   /ephemera/rbc/1.0.0     request  [1, [[id, message]...]]      response [1, [ackedId...]]
 *   /ephemera/block/1.0.0   request  [1, round, creator, hash]     response [1, block | null]
 *   /ephemera/sync/1.0.0    request  [1, afterHeight, limit]       response [1, lastHeight, [[height, hash]...]]
 *   /ephemera/certified/1.0.0 request [1, hash]                     response [1, [block, certificate] | null]
 *
 *   message = [0, block, proposerSignature]                  PROPOSE
 *           | [1, round, creator, hash]                      ECHO
 *           | [2, round, creator, hash, readySignature]      READY
 */

export const RBC_PROTOCOL = '/ephemera/rbc/1.0.0'
export const FETCH_PROTOCOL = '/ephemera/block/1.0.0'
export const SYNC_PROTOCOL = '/ephemera/sync/1.0.0'
export const CERTIFIED_PROTOCOL = '/ephemera/certified/1.0.0'
export const MAX_SYNC_ENTRIES = 512
export const MAX_FRAME_BYTES = LIMITS.blockBytes + 64 * 1024
const VERSION = 1
export const MAX_BATCH = 512

export interface Envelope {
  id: number
  message: RbcMessage
}

function messageToWire (m: RbcMessage): unknown[] {
  switch (m.type) {
    case 'propose': return [0, blockToWire(m.block), m.signature]
    case 'echo': return [1, m.round, m.creator, m.hash]
    case 'ready': return [2, m.round, m.creator, m.hash, m.signature]
  }
}

function messageFromWire (value: unknown, what: string): RbcMessage {
  const list = shape.array(value, what)
  const kind = shape.uint(list[0], `${what}.type`, 2)
  if (kind === 0) {
    shape.array(list, what, 3)
    const block = blockFromWire(list[1], `${what}.block`)
    return { type: 'propose', block, hash: blockHash(block.header), signature: shape.bytes(list[2], `${what}.signature`, 64) }
  }
  shape.array(list, what, kind === 1 ? 4 : 5)
  const round = shape.uint(list[1], `${what}.round`)
  const creator = shape.bytes(list[2], `${what}.creator`, 32)
  const hash = shape.bytes(list[3], `${what}.hash`, 32)
  if (kind === 1) return { type: 'echo', round, creator, hash }
  return { type: 'ready', round, creator, hash, signature: shape.bytes(list[4], `${what}.signature`, 64) }
}

/** The bytes one envelope takes in a batch frame. */
export function envelopeBytes (envelope: Envelope): number {
  return cborLength([envelope.id, messageToWire(envelope.message)])
}

export function encodeBatch (envelopes: readonly Envelope[]): Uint8Array {
  return encodeCbor([VERSION, envelopes.map((e) => [e.id, messageToWire(e.message)])])
}

/**
 * Decodes a batch. A malformed individual message does not sink the batch: it comes back as an
 * error with its id (so it can be acknowledged and never resent).
 */
export function decodeBatch (bytes: Uint8Array): Array<{ id: number, message?: RbcMessage, error?: string }> {
  const [version, items] = shape.array(decodeCbor(bytes, MAX_FRAME_BYTES, 'rbc frame'), 'rbc frame', 2)
  if (version !== VERSION) throw new DecodeError(`rbc frame: unsupported version ${String(version)}`)
  return shape.array(items, 'rbc frame.messages', undefined, MAX_BATCH).map((item, i) => {
    const [id, message] = shape.array(item, `message ${i}`, 2)
    const envelopeId = shape.uint(id, `message ${i}.id`)
    try {
      return { id: envelopeId, message: messageFromWire(message, `message ${i}`) }
    } catch (err) {
      return { id: envelopeId, error: (err as Error).message }
    }
  })
}

export function encodeAck (ids: readonly number[]): Uint8Array {
  return encodeCbor([VERSION, ids])
}

export function decodeAck (bytes: Uint8Array): number[] {
  const [version, ids] = shape.array(decodeCbor(bytes, 64 * 1024, 'rbc ack'), 'rbc ack', 2)
  if (version !== VERSION) throw new DecodeError(`rbc ack: unsupported version ${String(version)}`)
  return shape.array(ids, 'rbc ack.ids', undefined, MAX_BATCH).map((id, i) => shape.uint(id, `rbc ack.ids[${i}]`))
}

export function encodeFetchRequest (round: number, creator: Uint8Array, hash: Uint8Array): Uint8Array {
  return encodeCbor([VERSION, round, creator, hash])
}

export function decodeFetchRequest (bytes: Uint8Array): { round: number, creator: Uint8Array, hash: Uint8Array } {
  const [version, round, creator, hash] = shape.array(decodeCbor(bytes, 1024, 'fetch request'), 'fetch request', 4)
  if (version !== VERSION) throw new DecodeError(`fetch request: unsupported version ${String(version)}`)
  return { round: shape.uint(round, 'fetch.round'), creator: shape.bytes(creator, 'fetch.creator', 32), hash: shape.bytes(hash, 'fetch.hash', 32) }
}

export function encodeFetchResponse (block: Block | undefined): Uint8Array {
  return encodeCbor([VERSION, block == null ? null : blockToWire(block)])
}

export function decodeFetchResponse (bytes: Uint8Array): Block | undefined {
  const [version, block] = shape.array(decodeCbor(bytes, MAX_FRAME_BYTES, 'fetch response'), 'fetch response', 2)
  if (version !== VERSION) throw new DecodeError(`fetch response: unsupported version ${String(version)}`)
  return block === null ? undefined : blockFromWire(block, 'fetch response.block')
}

export function encodeSyncRequest (afterHeight: number, limit: number): Uint8Array {
  return encodeCbor([VERSION, afterHeight, limit])
}

export function decodeSyncRequest (bytes: Uint8Array): { afterHeight: number, limit: number } {
  const [version, afterHeight, limit] = shape.array(decodeCbor(bytes, 64, 'sync request'), 'sync request', 3)
  if (version !== VERSION) throw new DecodeError(`sync request: unsupported version ${String(version)}`)
  return { afterHeight: shape.uint(afterHeight, 'sync.afterHeight'), limit: Math.max(1, shape.uint(limit, 'sync.limit', MAX_SYNC_ENTRIES)) }
}

export interface SyncList {
  lastHeight: number
  entries: Array<{ height: number, hash: Uint8Array }>
}

export function encodeSyncResponse (list: SyncList): Uint8Array {
  return encodeCbor([VERSION, list.lastHeight, list.entries.map((e) => [e.height, e.hash])])
}

export function decodeSyncResponse (bytes: Uint8Array): SyncList {
  const [version, lastHeight, entries] = shape.array(decodeCbor(bytes, 64 * 1024, 'sync response'), 'sync response', 3)
  if (version !== VERSION) throw new DecodeError(`sync response: unsupported version ${String(version)}`)
  return {
    lastHeight: shape.uint(lastHeight, 'sync.lastHeight'),
    entries: shape.array(entries, 'sync.entries', undefined, MAX_SYNC_ENTRIES).map((e, i) => {
      const [height, hash] = shape.array(e, `sync.entries[${i}]`, 2)
      return { height: shape.uint(height, `sync.entries[${i}].height`), hash: shape.bytes(hash, `sync.entries[${i}].hash`, 32) }
    })
  }
}

export function encodeCertifiedRequest (hash: Uint8Array): Uint8Array {
  return encodeCbor([VERSION, hash])
}

export function decodeCertifiedRequest (bytes: Uint8Array): Uint8Array {
  const [version, hash] = shape.array(decodeCbor(bytes, 64, 'certified request'), 'certified request', 2)
  if (version !== VERSION) throw new DecodeError(`certified request: unsupported version ${String(version)}`)
  return shape.bytes(hash, 'certified.hash', 32)
}

export function encodeCertifiedResponse (value: { block: Block, certificate: Certificate } | undefined): Uint8Array {
  return encodeCbor([VERSION, value == null ? null : [blockToWire(value.block), certificateToWire(value.certificate)]])
}

export function decodeCertifiedResponse (bytes: Uint8Array): { block: Block, certificate: Certificate } | undefined {
  const [version, value] = shape.array(decodeCbor(bytes, MAX_FRAME_BYTES, 'certified response'), 'certified response', 2)
  if (version !== VERSION) throw new DecodeError(`certified response: unsupported version ${String(version)}`)
  if (value === null) return undefined
  const [block, certificate] = shape.array(value, 'certified', 2)
  return { block: blockFromWire(block, 'certified.block'), certificate: certificateFromWire(certificate, 'certified.certificate') }
}
