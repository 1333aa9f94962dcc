import { messageSigningBytes } from '../../src/block/encoding.js'
import { toBase64, toHex } from '../../src/codec/bytes.js'
import type { NodeKey } from '../../src/crypto/keys.js'

export interface MessageBody {
  timestamp: number
  label: string
  data: string
  publicKey: string
  signature: string
}

/** A client message as the submit endpoint takes it, signed by `key`. */
export function signedMessage (key: NodeKey, label: string, data: string | Uint8Array, timestamp = Date.now()): MessageBody {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const signature = key.sign(messageSigningBytes({ timestamp, label, data: bytes }))
  return { timestamp, label, data: toBase64(bytes), publicKey: toHex(key.publicKey), signature: toHex(signature) }
}

/** POSTs JSON (a string is sent as is); the status and the parsed body (the text when it is not JSON). */
export async function postJson (url: string, body: unknown, timeoutMs = 5_000): Promise<{ status: number, json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, json }
}
