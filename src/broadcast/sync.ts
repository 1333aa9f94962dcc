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

export interface SyncModules {
  transport: Pick<RbcTransport, 'syncList' | 'certified'>
  network: Pick<PeerNetwork, 'isConnected'>
  store: Pick<BlockStore, 'has'>
  members: () => readonly SyncMember[]
  self: Uint8Array
  accept: AcceptCertified
  logger: Logger
}

/** Passes per peer per sync round: a peer that keeps answering cannot keep this node busy. */
const MAX_PASSES = 64

/**
 * Catching up on certified blocks this node missed (downtime, a wiped data dir): a connected
 * member lists the hashes it delivered after the last height seen from it; blocks this node lacks
 * are fetched with their certificates and handed to `accept`, which verifies them against the
 * membership before storing them.
 *
 * A round asks the members in turn, going on from the one after the last member asked, and stops
 * at the first that lists nothing this node lacks: one request per round while nothing is missing
 * (every member delivers every block, so any one of them shows a gap), more only while they keep
 * filling gaps or fail to answer. Asking every member every round cost N − 1 requests per node
 * per round, N(N − 1) in the network: at 25 nodes on two cores, 54 of the 122 % of CPU an idle
 * network used (README "Benchmark").
 */
export class CertifiedSync {
  readonly #transport: SyncModules['transport']
  readonly #network: SyncModules['network']
  readonly #store: SyncModules['store']
  readonly #members: () => readonly SyncMember[]
  readonly #self: Uint8Array
  readonly #accept: AcceptCertified
  readonly #logger: Logger
  /** Per member (hex): the last of its local heights already seen. */
  readonly #cursors = new Map<string, number>()
  /** The member (hex) asked last: the next round starts after it in member order. */
  #last: string | undefined
  #running = false
  synced = 0

  constructor (modules: SyncModules) {
    this.#transport = modules.transport
    this.#network = modules.network
    this.#store = modules.store
    this.#members = modules.members
    this.#self = modules.self
    this.#accept = modules.accept
    this.#logger = modules.logger
  }

  /**
   * One round (skipped while the previous one runs): the connected members in turn, from the one
   * after the member asked last, until one lists nothing this node lacks.
   */
  async round (signal: AbortSignal): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      const members = this.#members()
      // cursors of peers that are no longer members go (the set follows the committee)
      const current = new Set(members.map((m) => toHex(m.publicKey)))
      for (const peer of this.#cursors.keys()) if (!current.has(peer)) this.#cursors.delete(peer)
      const others = members.filter((m) => !equalBytes(m.publicKey, this.#self))
      const after = others.findIndex((m) => toHex(m.publicKey) === this.#last)
      for (let i = 1; i <= others.length; i++) {
        if (signal.aborted) return
        const member = others[(after + i) % others.length] as SyncMember
        if (!this.#network.isConnected(member.publicKey)) continue
        this.#last = toHex(member.publicKey)
        const taken = await this.#from(member, signal).catch((err: unknown) => {
          if (!signal.aborted) this.#logger.debug({ peer: member.name, err: errorMessage(err) }, 'sync failed')
          return undefined
        })
        if (taken === 0) return
      }
    } finally {
      this.#running = false
    }
  }

  /** The blocks taken from `member` (listed, lacking, verified); undefined when it failed to serve one. */
  async #from (member: SyncMember, signal: AbortSignal): Promise<number | undefined> {
    const peer = toHex(member.publicKey)
    let cursor = this.#cursors.get(peer) ?? 0
    let taken = 0
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const list = await this.#transport.syncList(member.publicKey, cursor, MAX_SYNC_ENTRIES, signal)
      // the peer's store was reset: start over
      if (list.lastHeight < cursor) cursor = 0
      const start = cursor
      for (const entry of list.entries) {
        if (entry.height <= cursor) {
          this.#logger.warn({ peer: member.name }, 'sync: peer listed heights out of order')
          return undefined
        }
        if (!await this.#store.has(toHex(entry.hash))) {
          const certified = await this.#transport.certified(member.publicKey, entry.hash, signal)
          if (certified == null) return undefined
          const problem = await this.#accept(certified.block, entry.hash, certified.certificate)
          if (problem != null) {
            this.#logger.warn({ peer: member.name, hash: toHex(entry.hash), problem }, 'sync: peer served a block that does not verify')
            return undefined
          }
          this.synced++
          taken++
        }
        cursor = entry.height
      }
      this.#cursors.set(peer, cursor)
      if (list.entries.length === 0 || cursor >= list.lastHeight || cursor === start) return taken
    }
    return taken
  }
}
