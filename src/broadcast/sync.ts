import { equalBytes, toHex } from '../codec/bytes.js'
import type { Block, Certificate } from '../block/types.js'
import type { PeerNetwork } from '../network/peers.js'
import type { BlockStore } from '../storage/index.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { RbcTransport } from './transport.js'
import { MAX_SYNC_ENTRIES } from './wire.js'

export type AcceptCertified = (block: Block, hash: Uint8Array, certificate: Certificate) => Promise<string | undefined>

export interface SyncMember {
  name: string
  publicKey: Uint8Array
}

/** Passes per peer per sync round: a peer that keeps answering cannot keep this node busy. */
const MAX_PASSES = 64

/**
 * Catching up on certified blocks this node missed (downtime, a wiped data dir): each connected
 * member in turn lists the hashes it delivered after the last height seen from it; blocks this
 * node lacks are fetched with their certificates and handed to `accept`, which verifies them
 * against the membership before storing them.
 */
export class CertifiedSync {
  readonly #transport: RbcTransport
  readonly #network: PeerNetwork
  readonly #store: BlockStore
  readonly #members: () => readonly SyncMember[]
  readonly #self: Uint8Array
  readonly #accept: AcceptCertified
  readonly #logger: Logger
  /** Per member (hex): the last of its local heights already seen. */
  readonly #cursors = new Map<string, number>()
  #running = false
  synced = 0

  constructor (modules: { transport: RbcTransport, network: PeerNetwork, store: BlockStore, members: () => readonly SyncMember[], self: Uint8Array, accept: AcceptCertified, logger: Logger }) {
    this.#transport = modules.transport
    this.#network = modules.network
    this.#store = modules.store
    this.#members = modules.members
    this.#self = modules.self
    this.#accept = modules.accept
    this.#logger = modules.logger
  }

  /** One pass over the connected members (skipped while the previous one runs). */
  async round (signal: AbortSignal): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      const members = this.#members()
      // cursors of peers that are no longer members go (the set follows the committee)
      const current = new Set(members.map((m) => toHex(m.publicKey)))
      for (const peer of this.#cursors.keys()) if (!current.has(peer)) this.#cursors.delete(peer)
      for (const member of members) {
        if (signal.aborted) return
        if (equalBytes(member.publicKey, this.#self) || !this.#network.isConnected(member.publicKey)) continue
        await this.#from(member, signal).catch((err: unknown) => {
          if (!signal.aborted) this.#logger.debug({ peer: member.name, err: errorMessage(err) }, 'sync failed')
        })
      }
    } finally {
      this.#running = false
    }
  }

  async #from (member: SyncMember, signal: AbortSignal): Promise<void> {
    const peer = toHex(member.publicKey)
    let cursor = this.#cursors.get(peer) ?? 0
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const list = await this.#transport.syncList(member.publicKey, cursor, MAX_SYNC_ENTRIES, signal)
      // the peer's store was reset: start over
      if (list.lastHeight < cursor) cursor = 0
      const start = cursor
      for (const entry of list.entries) {
        if (entry.height <= cursor) {
          this.#logger.warn({ peer: member.name }, 'sync: peer listed heights out of order')
          return
        }
        if (!await this.#store.has(toHex(entry.hash))) {
          const certified = await this.#transport.certified(member.publicKey, entry.hash, signal)
          if (certified == null) return
          const problem = await this.#accept(certified.block, entry.hash, certified.certificate)
          if (problem != null) {
            this.#logger.warn({ peer: member.name, hash: toHex(entry.hash), problem }, 'sync: peer served a block that does not verify')
            return
          }
          this.synced++
        }
        cursor = entry.height
      }
      this.#cursors.set(peer, cursor)
      if (list.entries.length === 0 || cursor >= list.lastHeight || cursor === start) return
    }
  }
}
