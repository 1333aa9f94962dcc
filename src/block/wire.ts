import { DecodeError, shape } from '../codec/cbor.js'
import { decodeHeader, encodeHeader } from './encoding.js'
import { LIMITS, type Block, type Certificate, type ClientMessage } from './types.js'

/** CBOR array forms of messages, blocks and certificates (docs/PROTOCOL.md §3). */

export type WireMessage = [number, string, Uint8Array, Uint8Array, Uint8Array]

export function messageToWire (m: ClientMessage): WireMessage {
  return [m.timestamp, m.label, m.data, m.publicKey, m.signature]
}

export function messageFromWire (value: unknown, what = 'message'): ClientMessage {
  const [timestamp, label, data, publicKey, signature] = shape.array(value, what, 5)
  return {
    timestamp: shape.uint(timestamp, `${what}.timestamp`),
    label: shape.string(label, `${what}.label`, LIMITS.labelBytes),
    data: shape.bytes(data, `${what}.data`, undefined, LIMITS.dataBytes),
    publicKey: shape.bytes(publicKey, `${what}.publicKey`, 32),
    signature: shape.bytes(signature, `${what}.signature`, 64)
  }
}

export function blockToWire (block: Block): [Uint8Array, WireMessage[]] {
  return [encodeHeader(block.header), block.messages.map(messageToWire)]
}

export function blockFromWire (value: unknown, what = 'block'): Block {
  const [headerBytes, messages] = shape.array(value, what, 2)
  let header
  try {
    header = decodeHeader(shape.bytes(headerBytes, `${what}.header`))
  } catch (err) {
    if (err instanceof DecodeError) throw err
    throw new DecodeError(`${what}.header: ${(err as Error).message}`)
  }
  const list = shape.array(messages, `${what}.messages`, undefined, LIMITS.messagesPerBlock)
  return { header, messages: list.map((m, i) => messageFromWire(m, `${what}.messages[${i}]`)) }
}

export function certificateToWire (c: Certificate): [number, Uint8Array, Uint8Array, Array<[Uint8Array, Uint8Array]>] {
  return [c.round, c.creator, c.blockHash, c.signatures.map((s) => [s.signer, s.signature])]
}

export function certificateFromWire (value: unknown, what = 'certificate'): Certificate {
  const [round, creator, blockHash, signatures] = shape.array(value, what, 4)
  return {
    round: shape.uint(round, `${what}.round`),
    creator: shape.bytes(creator, `${what}.creator`, 32),
    blockHash: shape.bytes(blockHash, `${what}.blockHash`, 32),
    signatures: shape.array(signatures, `${what}.signatures`, undefined, LIMITS.maxMembers).map((s, i) => {
      const [signer, signature] = shape.array(s, `${what}.signatures[${i}]`, 2)
      return { signer: shape.bytes(signer, `${what}.signatures[${i}].signer`, 32), signature: shape.bytes(signature, `${what}.signatures[${i}].signature`, 64) }
    })
  }
}
