import { isDeepStrictEqual } from 'node:util'
import { roundCommittee, type BroadcastMember, type CommitteeSource, type RoundCommittee } from '../broadcast/index.js'
import { fromHex } from '../codec/bytes.js'
import type { Member } from '../config/peers.js'
import { committeeAt, type CommitteeChangeJson } from '../epochs/committee-chain.js'
import type { MembershipViewJson } from '../epochs/membership-requests.js'
import type { CommitteeJson, CommitteeMemberJson, ParametersJson } from '../epochs/record.js'
import { Bucket, jsonBytes, parseJsonBytes, type Database } from '../storage/index.js'

const VIEW_KEY = 'committee-view'
/** Round committees kept (by membership id); rebuilt on demand beyond it. */
const MAX_ROUND_COMMITTEES = 16

/** What a node keeps of the coordinator's membership view (stored, so a restart knows it offline). */
export interface CommitteeViewState {
  base: CommitteeJson
  changes: CommitteeChangeJson[]
  parameters: Record<string, ParametersJson>
  /** Queued and staged validators, and banned keys (for the connection gater). */
  waiting: CommitteeMemberJson[]
  banned: string[]
}

/**
 * The committee of each epoch, as the coordinator decided it (GET /contract/membership), for the
 * whole node: the broadcast engine's committee source (who votes in each round, its thresholds),
 * the rewards pipeline's (who reports, the threshold, the proposer order, the chunk rotation), and
 * the registered validators the connection gater lets in. Until the coordinator is reached it is
 * the genesis committee (the peers file), or the view stored at the last refresh.
 */
export class EpochCommittees implements CommitteeSource {
  readonly #db: Database
  readonly #self: CommitteeMemberJson
  readonly #listeners = new Set<() => void>()
  readonly #learned = new Set<(change: CommitteeChangeJson) => void>()
  readonly #rounds = new Map<string, RoundCommittee>()
  #state: CommitteeViewState
  /** The epoch running now (the window of epochs whose committees are peers), once known. */
  #current = 0
  #openEpochs = 12

  constructor (genesis: CommitteeJson, self: CommitteeMemberJson, db: Database) {
    this.#db = db
    this.#self = self
    this.#state = { base: genesis, changes: [], parameters: {}, waiting: [], banned: [] }
  }

  /** The view stored at the last refresh, if any. */
  async load (): Promise<void> {
    const raw = await this.#db.bucket(Bucket.meta).get(VIEW_KEY)
    if (raw != null) this.#state = parseJsonBytes<CommitteeViewState>(raw)
  }

  /** Tells which epoch runs now and how many epochs back are still open (their committees stay peers). */
  setEpoch (current: number, openEpochs: number): void {
    const changed = current !== this.#current
    this.#current = current
    this.#openEpochs = openEpochs
    if (changed) this.#notify()
  }

  /** Takes the coordinator's view; true when a committee, the queue or the bans changed (stored, then listeners told). */
  async update (view: MembershipViewJson): Promise<boolean> {
    const next: CommitteeViewState = {
      base: view.base,
      changes: view.changes,
      parameters: view.parameters,
      waiting: [...view.queue, ...view.next].map((q) => q.member),
      banned: view.bans.map((b) => b.member.publicKey)
    }
    if (isDeepStrictEqual(next, this.#state)) return false
    const known = new Set(this.#state.changes.map(changeKey))
    this.#state = next
    await this.#db.bucket(Bucket.meta).put(VIEW_KEY, jsonBytes(next))
    this.#notify()
    for (const change of next.changes) {
      if (known.has(changeKey(change))) continue
      for (const listener of this.#learned) listener(change)
    }
    return true
  }

  /** Calls `listener` with each committee change this node learns (stored), once; the returned function unsubscribes. */
  onLearned (listener: (change: CommitteeChangeJson) => void): () => void {
    this.#learned.add(listener)
    return () => { this.#learned.delete(listener) }
  }

  /** The committee of an epoch. */
  committee (epoch: number): CommitteeJson {
    return committeeAt(this.#state.base, this.#state.changes, epoch)
  }

  /** The public keys (hex) of an epoch's committee. */
  memberKeys (epoch: number): string[] {
    return this.committee(epoch).members.map((member) => member.publicKey)
  }

  /** The aggregation parameters of an epoch, when the coordinator announced them for its committee. */
  parameters (epoch: number): ParametersJson | undefined {
    return this.#state.parameters[this.committee(epoch).membershipId]
  }

  /** Whether a key is queued or staged for admission. */
  waiting (publicKey: string): boolean {
    return this.#state.waiting.some((m) => m.publicKey === publicKey)
  }

  banned (publicKey: string): boolean {
    return this.#state.banned.includes(publicKey)
  }

  /** Where this node listens, as it registers (multiaddrs with its PeerId). */
  selfAddresses (): string[] {
    return this.#self.multiaddrs ?? []
  }

  isMember (epoch: number, publicKey: string): boolean {
    return this.committee(epoch).members.some((m) => m.publicKey === publicKey)
  }

  /** The name of any member this node knows of. */
  name (publicKey: string): string | undefined {
    for (const c of this.#committees()) {
      const m = c.members.find((x) => x.publicKey === publicKey)
      if (m != null) return m.name
    }
    return this.#state.waiting.find((m) => m.publicKey === publicKey)?.name
  }

  // ---- CommitteeSource (the broadcast engine) -------------------------------------------

  at (round: number): RoundCommittee {
    const committee = this.committee(round)
    let rc = this.#rounds.get(committee.membershipId)
    if (rc == null) {
      rc = roundCommittee(committee.members.map(broadcastMember))
      if (this.#rounds.size >= MAX_ROUND_COMMITTEES) this.#rounds.delete(this.#rounds.keys().next().value as string)
      this.#rounds.set(committee.membershipId, rc)
    }
    return rc
  }

  /** The members of the committees of the open epochs and the next two (self included). */
  peers (): readonly BroadcastMember[] {
    const byKey = new Map<string, CommitteeMemberJson>()
    for (const c of this.#committees()) for (const m of c.members) byKey.set(m.publicKey, m)
    return [...byKey.values()].map(broadcastMember)
  }

  onChange (listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Who the connection gater lets in: the members of the open and coming committees, the queued
   * and staged validators (they must reach the committee they join), never a banned key.
   */
  registered (): Member[] {
    const byKey = new Map<string, CommitteeMemberJson>()
    for (const m of [...this.#committees().flatMap((c) => c.members), ...this.#state.waiting, this.#self]) byKey.set(m.publicKey, m)
    const banned = new Set(this.#state.banned)
    return [...byKey.values()].filter((m) => !banned.has(m.publicKey) || m.publicKey === this.#self.publicKey)
      .map((m) => ({ name: m.name, peerId: m.peerId, address: m.multiaddrs?.[0]?.replace(/\/p2p\/[^/]+$/, '') ?? '' }))
      .filter((m) => m.address !== '' || m.peerId === this.#self.peerId)
  }

  /** The committees of the open epochs and the next two. */
  #committees (): CommitteeJson[] {
    if (this.#current === 0) return [this.#state.base, ...this.#state.changes.map((c) => c.committee)]
    const out = new Map<string, CommitteeJson>()
    for (let e = Math.max(1, this.#current - this.#openEpochs); e <= this.#current + 2; e++) {
      const c = this.committee(e)
      out.set(c.membershipId, c)
    }
    return [...out.values()]
  }

  #notify (): void {
    for (const listener of this.#listeners) listener()
  }
}

const changeKey = (c: CommitteeChangeJson): string => `${c.decidedAt}:${c.effectiveEpoch}:${c.committee.membershipId}`

function broadcastMember (m: CommitteeMemberJson): BroadcastMember {
  return { name: m.name, publicKey: fromHex(m.publicKey, 32) as Uint8Array, address: m.multiaddrs?.[0]?.replace(/\/p2p\/[^/]+$/, '') ?? '' }
}
