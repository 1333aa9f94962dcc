import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { toHex } from '../codec/bytes.js'
import type { NodeLibp2p } from './libp2p.js'
import type { PooledStream, StreamPool } from './stream-pool.js'

/**
 * Request/response over libp2p streams (varint length-prefixed frames): the requester writes one
 * request frame and reads one response frame; a stream may then carry further exchanges in
 * sequence (the requester keeps it in a StreamPool, the server reads the next request until the
 * stream ends or idles). The peer is named by its 32-byte Ed25519 public key; the handler learns
 * the requester's key from the authenticated connection.
 */

/** A server closes a stream that has carried no request for this long (requesters keep idle ones for less). */
export const SERVER_IDLE_MS = 30_000

/**
 * The largest frame accepted, and a read buffer that holds one: libp2p's byte stream buffers at
 * most 4 MiB by default and aborts the stream beyond that, which would silently refuse every
 * frame between 4 MiB and the protocol's limit (an RBC PROPOSE of a block up to 8 MiB).
 */
function frameLimits (maxDataLength: number): { maxDataLength: number, maxBufferSize: number } {
  return { maxDataLength, maxBufferSize: maxDataLength + 16 }
}

export async function request (libp2p: NodeLibp2p, peer: Uint8Array, protocol: string, payload: Uint8Array, opts: { signal: AbortSignal, maxResponseBytes: number, pool?: StreamPool }): Promise<Uint8Array> {
  const key = `${toHex(peer)} ${protocol}`
  const idle = opts.pool?.take(key)
  if (idle != null) {
    try {
      return await exchange(idle, payload, opts, key)
    } catch (err) {
      // the server may have closed the idle stream meanwhile: once more, on a fresh stream
      if (opts.signal.aborted) throw err
    }
  }
  const stream = await libp2p.dialProtocol(peerIdFromPublicKey(publicKeyFromRaw(peer)), protocol, { signal: opts.signal })
  return await exchange({ stream, lp: lpStream(stream, frameLimits(opts.maxResponseBytes)) }, payload, opts, key)
}

async function exchange (pooled: PooledStream, payload: Uint8Array, opts: { signal: AbortSignal, pool?: StreamPool }, key: string): Promise<Uint8Array> {
  try {
    await pooled.lp.write(payload, { signal: opts.signal })
    const response = (await pooled.lp.read({ signal: opts.signal })).subarray()
    if (opts.pool != null) opts.pool.give(key, pooled)
    else await pooled.stream.close().catch(() => {})
    return response
  } catch (err) {
    pooled.stream.abort(err as Error)
    throw err
  }
}

export async function serve (libp2p: NodeLibp2p, protocol: string, opts: { maxRequestBytes: number, timeoutMs: number, maxStreams?: number, idleMs?: number }, handler: (from: Uint8Array, request: Uint8Array) => Promise<Uint8Array>): Promise<void> {
  await libp2p.handle(protocol, async (stream, connection) => {
    const from = connection.remotePeer.publicKey?.raw
    if (from == null) {
      stream.abort(new Error('peer has no public key'))
      return
    }
    const lp = lpStream(stream, frameLimits(Math.max(opts.maxRequestBytes, 16)))
    // the first request must come within the request timeout; later ones within the idle timeout
    for (let served = 0; ; served++) {
      let payload: Uint8Array
      try {
        payload = (await lp.read({ signal: AbortSignal.timeout(served === 0 ? opts.timeoutMs : opts.idleMs ?? SERVER_IDLE_MS) })).subarray()
      } catch (err) {
        if (served === 0) throw err
        // the requester closed the stream, or it idled: it has served its purpose
        await stream.close().catch(() => { stream.abort(new Error('close failed')) })
        return
      }
      await lp.write(await handler(from, payload), { signal: AbortSignal.timeout(opts.timeoutMs) })
    }
  }, { maxInboundStreams: opts.maxStreams ?? 64, maxOutboundStreams: opts.maxStreams ?? 64 })
}
