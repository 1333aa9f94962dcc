import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import type { NodeLibp2p } from './libp2p.js'

/**
 * One request frame, one response frame, on a fresh libp2p stream (varint length-prefixed). The
 * peer is named by its 32-byte Ed25519 public key; the handler learns the requester's key from
 * the authenticated connection.
 */

/**
 * The largest frame accepted, and a read buffer that holds one: libp2p's byte stream buffers at
 * most 4 MiB by default and aborts the stream beyond that, which would silently refuse every
 * frame between 4 MiB and the protocol's limit (an RBC PROPOSE of a block up to 8 MiB).
 */
function frameLimits (maxDataLength: number): { maxDataLength: number, maxBufferSize: number } {
  return { maxDataLength, maxBufferSize: maxDataLength + 16 }
}

export async function request (libp2p: NodeLibp2p, peer: Uint8Array, protocol: string, payload: Uint8Array, opts: { signal: () => AbortSignal, maxResponseBytes: number }): Promise<Uint8Array> {
  const stream = await libp2p.dialProtocol(peerIdFromPublicKey(publicKeyFromRaw(peer)), protocol, { signal: opts.signal() })
  try {
    const lp = lpStream(stream, frameLimits(opts.maxResponseBytes))
    await lp.write(payload, { signal: opts.signal() })
    const response = (await lp.read({ signal: opts.signal() })).subarray()
    await stream.close().catch(() => {})
    return response
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

export async function serve (libp2p: NodeLibp2p, protocol: string, opts: { maxRequestBytes: number, timeoutMs: number, maxStreams?: number }, handler: (from: Uint8Array, request: Uint8Array) => Promise<Uint8Array>): Promise<void> {
  await libp2p.handle(protocol, async (stream, connection) => {
    const from = connection.remotePeer.publicKey?.raw
    if (from == null) {
      stream.abort(new Error('peer has no public key'))
      return
    }
    const lp = lpStream(stream, frameLimits(Math.max(opts.maxRequestBytes, 16)))
    const payload = (await lp.read({ signal: AbortSignal.timeout(opts.timeoutMs) })).subarray()
    await lp.write(await handler(from, payload), { signal: AbortSignal.timeout(opts.timeoutMs) })
    await stream.close()
  }, { maxInboundStreams: opts.maxStreams ?? 64, maxOutboundStreams: opts.maxStreams ?? 64 })
}
