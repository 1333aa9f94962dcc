import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { byteStream, lpStream } from '@libp2p/utils'
import { buildBlock, blockHash, membershipId, messageSigningBytes, proposalSigningBytes } from '../../../src/block/encoding.js'
import type { Block, ClientMessage } from '../../../src/block/types.js'
import { encodeBatch, MAX_FRAME_BYTES, RBC_PROTOCOL } from '../../../src/broadcast/wire.js'
import { encodeCbor } from '../../../src/codec/cbor.js'
import { publicKeyFromPeerId, readKeyFile, type NodeKey } from '../../../src/crypto/keys.js'
import { createNodeLibp2p, type NodeLibp2p } from '../../../src/network/libp2p.js'
import type { Cluster } from './cluster.js'
import { waitUntil } from './wait.js'

/**
 * A Byzantine member, run inside the test process: a libp2p host with a member's own key and
 * listen address (so the others' gaters accept it), which floods the others on the RBC protocol
 * (`/ephemera/rbc/1.0.0`: one varint length-prefixed frame per stream, frame = encodeBatch):
 * many distinct large proposals for one (round, creator), proposals for many rounds, votes for
 * unknown instances, and garbage frames. It never answers anything itself.
 */

export interface FloodStats {
  frames: number
  bytes: number
  failed: number
  acked: number
  /** Why sends failed (first words of the error), with counts. */
  errors: Record<string, number>
}

export class ByzantineMember {
  readonly name: string
  readonly key: NodeKey
  readonly libp2p: NodeLibp2p
  readonly #cluster: Cluster
  readonly #membershipId: Uint8Array
  readonly stats: FloodStats = { frames: 0, bytes: 0, failed: 0, acked: 0, errors: {} }
  #nextId = 1

  private constructor (cluster: Cluster, name: string, key: NodeKey, libp2p: NodeLibp2p) {
    this.#cluster = cluster
    this.name = name
    this.key = key
    this.libp2p = libp2p
    this.#membershipId = membershipId(cluster.members.map((m) => publicKeyFromPeerId(m.peerId)))
  }

  /** Takes over `name`'s identity and address (its process must be stopped first) and connects to the others. */
  static async start (cluster: Cluster, name: string): Promise<ByzantineMember> {
    const member = cluster.member(name)
    const key = await readKeyFile(join(member.dir, 'node.key'))
    const libp2p = await createNodeLibp2p({
      privateKey: key.privateKey,
      listen: member.address,
      gater: {},
      memberAddresses: cluster.members.map((m) => m.address),
      gossipHeartbeatMs: 700
    })
    await libp2p.start()
    const self = new ByzantineMember(cluster, name, key, libp2p)
    await waitUntil(async () => {
      for (const target of self.targets()) {
        if (libp2p.getConnections(peerIdFromString(target.peerId)).length === 0) {
          await libp2p.dial(multiaddr(`${target.address}/p2p/${target.peerId}`), { signal: AbortSignal.timeout(3_000) }).catch(() => {})
        }
      }
      return self.targets().every((t) => libp2p.getConnections(peerIdFromString(t.peerId)).length > 0)
    }, { timeoutMs: 30_000, intervalMs: 500, what: `the Byzantine ${name} to connect to every other member` })
    return self
  }

  targets (): Array<{ name: string, peerId: string, address: string }> {
    return this.#cluster.members.filter((m) => m.name !== this.name && this.#cluster.node(m.name).running)
  }

  async stop (): Promise<void> {
    await this.libp2p.stop()
  }

  /** Sends one frame on a new RBC stream, length-prefixed (or raw bytes); waits for the ack a while. */
  async send (peerId: string, frame: Uint8Array, opts: { raw?: boolean, ackTimeoutMs?: number } = {}): Promise<void> {
    this.stats.frames++
    this.stats.bytes += frame.length
    let stream
    try {
      stream = await this.libp2p.dialProtocol(peerIdFromString(peerId), RBC_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      if (opts.raw === true) {
        await byteStream(stream).write(frame, { signal: AbortSignal.timeout(10_000) })
      } else {
        const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
        await lp.write(frame, { signal: AbortSignal.timeout(20_000) })
        await lp.read({ signal: AbortSignal.timeout(opts.ackTimeoutMs ?? 5_000) })
        this.stats.acked++
      }
      await stream.close().catch(() => {})
    } catch (err) {
      this.stats.failed++
      const why = String((err as Error).message ?? err).slice(0, 60)
      this.stats.errors[why] = (this.stats.errors[why] ?? 0) + 1
      stream?.abort(err as Error)
    }
  }

  /** Sends frames made by `make(i)` to every target: sequentially per target, targets in parallel. */
  async flood (count: number, make: (i: number) => Uint8Array, opts: { raw?: boolean, ackTimeoutMs?: number } = {}): Promise<void> {
    await Promise.all(this.targets().map(async (t) => {
      for (let i = 0; i < count; i++) await this.send(t.peerId, make(i), opts)
    }))
  }

  /** `count` client messages signed by this member, `bytes` of data each, under a label no application accepts. */
  messages (count: number, bytes: number): ClientMessage[] {
    return Array.from({ length: count }, (_, i) => {
      const data = randomBytes(bytes)
      const m = { timestamp: Date.now(), label: `flood/${i}`, data: new Uint8Array(data) }
      return { ...m, publicKey: this.key.publicKey, signature: this.key.sign(messageSigningBytes(m)) }
    })
  }

  /** A correctly signed proposal (the block itself is not valid for any application). */
  proposal (round: number, messages: ClientMessage[], height: number): { block: Block, hash: Uint8Array, signature: Uint8Array } {
    const block = buildBlock({ round, creator: this.key.publicKey, height, createdAt: Date.now() + height, membershipId: this.#membershipId }, messages)
    const hash = blockHash(block.header)
    return { block, hash, signature: this.key.sign(proposalSigningBytes(round, this.key.publicKey, hash)) }
  }

  /** A frame of one PROPOSE. */
  proposeFrame (p: { block: Block, hash: Uint8Array, signature: Uint8Array }): Uint8Array {
    return encodeBatch([{ id: this.#nextId++, message: { type: 'propose', ...p } }])
  }

  /** A frame of `count` ECHOs for random hashes of rounds from `firstRound`, by this member's key. */
  echoFrame (firstRound: number, count: number): Uint8Array {
    return encodeBatch(Array.from({ length: count }, (_, i) => ({
      id: this.#nextId++,
      message: { type: 'echo' as const, round: firstRound + i, creator: this.key.publicKey, hash: new Uint8Array(randomBytes(32)) }
    })))
  }

  /** A well-formed batch whose `count` messages do not decode (unknown type, wrong field sizes). */
  undecodableFrame (count: number): Uint8Array {
    return encodeCbor([1, Array.from({ length: count }, (_, i) => [this.#nextId++, i % 2 === 0 ? [0, new Uint8Array(randomBytes(64)), new Uint8Array(3)] : [2, 7, new Uint8Array(5), 'x', 0]])])
  }
}

/** Random bytes that are no CBOR frame at all. */
export function garbage (bytes: number): Uint8Array {
  const b = new Uint8Array(randomBytes(bytes))
  b[0] = 0xff // never a valid CBOR array header
  return b
}
