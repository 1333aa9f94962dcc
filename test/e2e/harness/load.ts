import { randomBytes } from 'node:crypto'
import { compareBytes } from '../../../src/codec/bytes.js'
import { messageId, messageSigningBytes } from '../../../src/block/encoding.js'
import type { ClientMessage } from '../../../src/block/types.js'
import { NodeKey, publicKeyFromPeerId } from '../../../src/crypto/keys.js'
import { toBase64, toHex } from '../../../src/codec/bytes.js'
import type { Cluster } from './cluster.js'
import { postJson } from './http.js'

/**
 * Client load for a messages cluster: signed messages submitted over HTTP at a steady rate,
 * round-robin over the running nodes, with a cap on requests in flight.
 */

export interface LoadStats {
  sent: number
  accepted: number
  refused: Record<string, number>
  failed: number
  /** Ticks skipped because `concurrency` requests were already in flight. */
  behind: number
}

export class MessageLoad {
  readonly stats: LoadStats = { sent: 0, accepted: 0, refused: {}, failed: 0, behind: 0 }
  readonly key = NodeKey.generate()
  readonly #cluster: Cluster
  readonly #opts: { perSecond: number, dataBytes: number, concurrency: number, targets?: string[] }
  #timer: NodeJS.Timeout | undefined
  #inFlight = 0
  #next = 0
  #counter = 0
  readonly #pending = new Set<Promise<void>>()

  constructor (cluster: Cluster, opts: { perSecond: number, dataBytes: number, concurrency?: number, targets?: string[] }) {
    this.#cluster = cluster
    this.#opts = { concurrency: 16, ...opts }
  }

  start (): void {
    const tickMs = 50
    let credit = 0
    this.#timer = setInterval(() => {
      credit += this.#opts.perSecond * tickMs / 1000
      while (credit >= 1) {
        credit--
        if (this.#inFlight >= this.#opts.concurrency) {
          this.stats.behind++
          continue
        }
        this.#submitOne()
      }
    }, tickMs)
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await Promise.allSettled([...this.#pending])
  }

  #submitOne (): void {
    const targets = (this.#opts.targets ?? this.#cluster.names).filter((n) => this.#cluster.node(n).running && !this.#cluster.node(n).paused)
    if (targets.length === 0) return
    const target = targets[this.#next++ % targets.length]!
    const data = randomBytes(this.#opts.dataBytes)
    data.writeUInt32BE(this.#counter++, 0)
    const body = messageBody(this.key, 'e2e-load', new Uint8Array(data))
    this.#inFlight++
    this.stats.sent++
    const p = postJson(`${this.#cluster.url(target)}/ephemera/broadcast/submit_message`, body, 10_000).then((res) => {
      if (res.status === 200) this.stats.accepted++
      else this.stats.refused[String(res.status)] = (this.stats.refused[String(res.status)] ?? 0) + 1
    }, () => { this.stats.failed++ }).finally(() => {
      this.#inFlight--
      this.#pending.delete(p)
    })
    this.#pending.add(p)
  }

  describe (): string {
    const refused = Object.entries(this.stats.refused).map(([s, n]) => `${n}×${s}`).join(', ')
    return `${this.stats.sent} messages sent, ${this.stats.accepted} accepted${refused !== '' ? `, refused ${refused}` : ''}${this.stats.failed > 0 ? `, ${this.stats.failed} failed` : ''}${this.stats.behind > 0 ? `, ${this.stats.behind} ticks behind` : ''}`
  }
}

export function messageBody (key: NodeKey, label: string, data: Uint8Array, timestamp = Date.now()): { timestamp: number, label: string, data: string, publicKey: string, signature: string } {
  const signature = key.sign(messageSigningBytes({ timestamp, label, data }))
  return { timestamp, label, data: toBase64(data), publicKey: toHex(key.publicKey), signature: toHex(signature) }
}

/**
 * A message whose designated member (docs/PROTOCOL.md §5: members sorted by public key, index =
 * u32(first 4 bytes of the message id) mod n) is `name`: random data until the id maps there.
 */
export function designatedMessage (cluster: Cluster, name: string, key: NodeKey, label: string, dataBytes = 32): ReturnType<typeof messageBody> {
  const sorted = cluster.members.map((m) => ({ name: m.name, key: publicKeyFromPeerId(m.peerId) })).sort((a, b) => compareBytes(a.key, b.key))
  const index = sorted.findIndex((m) => m.name === name)
  const data = new Uint8Array(randomBytes(dataBytes))
  for (;;) {
    data.set(randomBytes(8))
    const timestamp = Date.now()
    const signature = key.sign(messageSigningBytes({ timestamp, label, data }))
    const message: ClientMessage = { timestamp, label, data, publicKey: key.publicKey, signature }
    const id = messageId(message)
    if ((((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0) % cluster.n === index) {
      return { timestamp, label, data: toBase64(data), publicKey: toHex(key.publicKey), signature: toHex(signature) }
    }
  }
}
