import { equalBytes, toHex } from '../codec/bytes.js'
import { decodeCbor, DecodeError, encodeCbor, shape } from '../codec/cbor.js'
import { messageId } from '../block/encoding.js'
import { messageFromWire, messageToWire } from '../block/wire.js'
import { LIMITS, type ClientMessage } from '../block/types.js'
import type { BroadcastMember } from '../broadcast/index.js'
import { verifySignature } from '../crypto/keys.js'
import type { Gossip, GossipValidation, PeerNetwork } from '../network/peers.js'
import { Bucket, RangePruner, type Database } from '../storage/index.js'
import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { checkReportMessage, decodeReport, type ReportParameters } from '../epochs/report.js'

export const REPORTS_TOPIC = 'ephemera/rewards/reports/2'
export const REPORTS_PROTOCOL = '/ephemera/reports/1.0.0'

const pad = (n: number): string => String(n).padStart(16, '0')
const REPORT_MAX_BYTES = LIMITS.dataBytes + 4096

export type AddResult = 'added' | 'duplicate' | 'equivocation'

export interface ReportPoolOptions {
  mixnodes: number
  /** Reports of epochs this many behind the newest are dropped from memory. */
  keepInMemoryEpochs: number
  /** Stored reports (for a restart) of epochs this many behind are deleted. */
  keepStoredEpochs: number
  /** Equivocation evidence of epochs this many behind is deleted. */
  keepEvidenceEpochs: number
}

export interface ReportPoolModules {
  gossip: Gossip
  network: PeerNetwork
  db: Database
  key: { publicKey: Uint8Array }
  /** The committee of an epoch: its members (who report) and their public keys (hex). */
  members: (epoch: number) => readonly BroadcastMember[]
  committee: (epoch: number) => ReadonlySet<string>
  /** The name of a member (public key, hex), if known. */
  name: (publicKey: string) => string | undefined
  /** Whether reports for `epoch` are still collected. */
  acceptsEpoch: (epoch: number) => boolean
  /** The parameters an epoch's reports must commit to (undefined until the coordinator was reached). */
  parameters: (epoch: number) => ReportParameters | undefined
  /** Called whenever reports were added (wakes the pipeline's waits). */
  onChange: () => void
  /** Called with the first pair of different reports of one member for one epoch (kept as evidence). */
  onEvidence?: (first: ClientMessage, second: ClientMessage) => void
  logger: Logger
}

interface Entry {
  message: ClientMessage
  id: string
  /** Checked by this process (added), not only read back from storage after a restart. */
  checked: boolean
}

/** A gossiped report the validator accepted, handed to its delivery. */
type Accepted = Omit<Entry, 'checked'> & { epoch: number }

/**
 * The reports of recent epochs: one per member and epoch, collected from gossip, from blocks and
 * by asking peers directly, persisted for a restart, and served to peers that ask. A second,
 * different report of a member for one epoch is kept as equivocation evidence (the first pair
 * only). Everything is bounded: memory to the last few epochs, storage by the retention options.
 */
export class ReportPool {
  readonly #opts: ReportPoolOptions
  readonly #m: ReportPoolModules
  readonly #reports = new Map<number, Map<string, Entry>>()
  /** `epoch:sender` pairs with evidence stored (pruned with the evidence). */
  readonly #evidenceKept = new Set<string>()
  readonly #storedPruner: RangePruner
  readonly #evidencePruner: RangePruner
  /** What the gossip validator accepted, by the publication's bytes: delivery neither decodes nor checks it again. */

  constructor (opts: ReportPoolOptions, modules: ReportPoolModules) {
    this.#opts = opts
    this.#m = modules
    this.#storedPruner = new RangePruner(modules.db, Bucket.report)
    this.#evidencePruner = new RangePruner(modules.db, Bucket.reportEvidence)
  }

  async start (): Promise<void> {
    this.#m.gossip.subscribe(REPORTS_TOPIC, {
      validate: (data) => this.#validate(data),
      deliver: (accepted) => { this.#track(this.add(accepted.epoch, accepted.message, accepted.id)) }
    })
    await this.#m.network.handle(REPORTS_PROTOCOL, { maxRequestBytes: 64, timeoutMs: 10_000 }, async (_from, bytes) => this.#serve(bytes))
  }

  async stop (): Promise<void> {
    this.#m.gossip.unsubscribe(REPORTS_TOPIC)
    await this.#m.network.unhandle(REPORTS_PROTOCOL).catch(() => {})
  }

  /** After a restart: the stored reports of epochs from `fromEpoch`, and which evidence is kept. */
  async load (fromEpoch: number): Promise<void> {
    for await (const [key, value] of this.#m.db.bucket(Bucket.report).entries({ gte: pad(Math.max(0, fromEpoch)) })) {
      const epoch = Number(key.split(':')[0])
      try {
        const message = messageFromWire(decodeCbor(value, REPORT_MAX_BYTES, 'stored report'))
        this.#epoch(epoch).set(toHex(message.publicKey), { message, id: toHex(messageId(message)), checked: false })
      } catch {
        // a record from an older version: skip it
      }
    }
    for await (const key of this.#m.db.bucket(Bucket.reportEvidence).keys()) {
      const [epoch, sender] = key.split(':')
      this.#evidenceKept.add(`${Number(epoch)}:${sender ?? ''}`)
    }
  }

  count (epoch: number): number {
    return this.#reports.get(epoch)?.size ?? 0
  }

  /** Whether a report of `sender` (public key, or its hex) for `epoch` is here. */
  has (epoch: number, sender: Uint8Array | string): boolean {
    return this.#reports.get(epoch)?.has(typeof sender === 'string' ? sender : toHex(sender)) === true
  }

  /** The reports of an epoch, sorted by sender key. */
  messages (epoch: number): ClientMessage[] {
    return [...(this.#reports.get(epoch)?.values() ?? [])].map((e) => e.message).sort((a, b) => (toHex(a.publicKey) < toHex(b.publicKey) ? -1 : 1))
  }

  /** Names (or keys) of the members whose report for `epoch` is here, sorted. */
  reporters (epoch: number): string[] {
    return [...(this.#reports.get(epoch)?.keys() ?? [])].map((k) => this.#m.name(k) ?? k).sort()
  }

  /**
   * Adds a checked report. It is persisted (synced for this node's own report, which is then
   * sent); a different second report of the same member is kept as evidence instead.
   */
  async add (epoch: number, message: ClientMessage, id: string, opts: { own?: boolean } = {}): Promise<AddResult> {
    const sender = toHex(message.publicKey)
    const map = this.#epoch(epoch)
    const existing = map.get(sender)
    if (existing != null) {
      if (existing.id === id) return 'duplicate'
      await this.#saveEvidence(epoch, sender, existing, { message, id, checked: true })
      return 'equivocation'
    }
    map.set(sender, { message, id, checked: true })
    this.#m.onChange()
    await this.#m.db.write([{ type: 'put', bucket: Bucket.report, key: `${pad(epoch)}:${sender}`, value: encodeCbor(messageToWire(message)) }], { sync: opts.own === true })
    return 'added'
  }

  /**
   * Whether `message` is the report of its sender for `epoch` held here and checked by this
   * process (gossip, the direct fetch, a block, or this node's own): its signature need not be
   * verified again in a block (the rest of a block's checks depend on the committee and
   * parameters of the moment, and are made again).
   */
  holdsChecked (epoch: number, message: ClientMessage): boolean {
    const entry = this.#reports.get(epoch)?.get(toHex(message.publicKey))
    return entry != null && entry.checked && entry.id === toHex(messageId(message))
  }

  /** Validates a report message for its own epoch; the epoch, or the reason it is refused. */
  checkIncoming (message: ClientMessage): { ok: true, epoch: number, id: string } | { ok: false, reason: string, stale?: boolean } {
    let epoch: number
    try {
      epoch = decodeReport(message.data).epoch
    } catch (err) {
      return { ok: false, reason: `malformed report: ${errorMessage(err)}` }
    }
    if (!this.#m.acceptsEpoch(epoch)) return { ok: false, stale: true, reason: `report for epoch ${epoch} is outside the window of epochs being collected` }
    const parameters = this.#m.parameters(epoch)
    if (parameters == null) return { ok: false, stale: true, reason: 'the coordinator\'s parameters are not known yet' }
    const checked = checkReportMessage(message, { epoch, committee: this.#m.committee(epoch), parameters, verify: verifySignature })
    return checked.ok ? { ok: true, epoch, id: checked.id } : { ok: false, reason: checked.reason }
  }

  async publish (message: ClientMessage): Promise<void> {
    try {
      await this.#m.gossip.publish(REPORTS_TOPIC, encodeCbor(messageToWire(message)))
    } catch (err) {
      // gossip is the fast path; peers still get the report by asking (fetchMissing)
      this.#m.logger.debug({ err: errorMessage(err) }, 'report publish failed')
    }
  }

  /** Asks each member for the reports of `epoch` this node is missing. */
  async fetchMissing (epoch: number, signal: AbortSignal): Promise<void> {
    const self = this.#m.key.publicKey
    const members = this.#m.members(epoch)
    const missing = members.filter((m) => !equalBytes(m.publicKey, self) && !this.has(epoch, m.publicKey))
    if (missing.length === 0) return
    this.#m.logger.info({ epoch, missing: missing.map((m) => m.name) }, 'asking members directly for missing reports')
    const n = members.length
    await Promise.all(members.filter((m) => !equalBytes(m.publicKey, self)).map(async (peer) => {
      try {
        const response = await this.#m.network.request(peer.publicKey, REPORTS_PROTOCOL, encodeCbor([1, epoch]), {
          signal, timeoutMs: 5_000, maxResponseBytes: (REPORT_MAX_BYTES + 64) * n * 2
        })
        const [, list] = shape.array(decodeCbor(response, (REPORT_MAX_BYTES + 64) * n * 2, 'reports response'), 'reports response', 2)
        for (const item of shape.array(list, 'reports', undefined, n * 2)) {
          const message = messageFromWire(item)
          const checked = this.checkIncoming(message)
          if (checked.ok && checked.epoch === epoch) await this.add(epoch, message, checked.id)
        }
      } catch (err) {
        this.#m.logger.debug({ peer: peer.name, err: errorMessage(err) }, 'reports request failed')
      }
    }))
  }

  /** The most recent equivocation evidence, newest first (at most `limit` reports). */
  async evidence (limit = 100): Promise<Array<{ epoch: number, sender: string, message: ClientMessage }>> {
    const out = []
    for await (const [key, value] of this.#m.db.bucket(Bucket.reportEvidence).entries({ reverse: true, limit })) {
      const [epoch, sender] = key.split(':')
      out.push({ epoch: Number(epoch), sender: this.#m.name(sender ?? '') ?? sender ?? '', message: messageFromWire(decodeCbor(value, REPORT_MAX_BYTES, 'evidence')) })
    }
    return out
  }

  /** Forgets what is older than the retention options allow, relative to epoch `current`. */
  async prune (current: number): Promise<void> {
    for (const e of this.#reports.keys()) if (e < current - this.#opts.keepInMemoryEpochs) this.#reports.delete(e)
    for (const e of this.#twins.keys()) if (e < current - this.#opts.keepInMemoryEpochs) this.#twins.delete(e)
    await this.#storedPruner.pruneBelow(pad(Math.max(0, current - this.#opts.keepStoredEpochs)))
    for (const key of await this.#evidencePruner.pruneBelow(pad(Math.max(0, current - this.#opts.keepEvidenceEpochs)))) {
      const [epoch, sender] = key.split(':')
      this.#evidenceKept.delete(`${Number(epoch)}:${sender ?? ''}`)
    }
  }

  /** Sizes, for diagnostics and tests of the bounds. */
  stats (): { epochs: number, reports: number, evidencePairs: number } {
    let reports = 0
    for (const map of this.#reports.values()) reports += map.size
    return { epochs: this.#reports.size, reports, evidencePairs: this.#evidenceKept.size }
  }

  #epoch (epoch: number): Map<string, Entry> {
    let map = this.#reports.get(epoch)
    if (map == null) this.#reports.set(epoch, map = new Map())
    return map
  }

  #track (write: Promise<unknown>): void {
    write.catch((err: unknown) => { this.#m.logger.warn({ err: errorMessage(err) }, 'could not store a report') })
  }

  /** Keeps one pair of conflicting reports per (epoch, member): enough to prove it, bounded against a flood. */
  async #saveEvidence (epoch: number, sender: string, first: Entry, second: Entry): Promise<void> {
    const key = `${epoch}:${sender}`
    if (this.#evidenceKept.has(key)) return
    this.#evidenceKept.add(key)
    this.#m.logger.warn({ epoch, sender: this.#m.name(sender) ?? sender }, 'equivocation: two different reports from one member for one epoch')
    await this.#m.db.write([first, second].map((r) => ({ type: 'put' as const, bucket: Bucket.reportEvidence, key: `${pad(epoch)}:${sender}:${r.id}`, value: encodeCbor(messageToWire(r.message)) })))
    this.#m.onEvidence?.(first.message, second.message)
  }

  /**
   * Gossip verdict: reject what is invalid in itself; a second different report is evidence
   * (kept) and rejected; duplicates are ignored. Storage failures throw (the gossip layer ignores
   * the message then, never penalising the sender for this node's trouble).
   */
  #validate (data: Uint8Array): GossipValidation<Accepted> | Promise<GossipValidation<Accepted>> {
    let message: ClientMessage
    try {
      message = messageFromWire(decodeCbor(data, REPORT_MAX_BYTES, 'report'))
    } catch (err) {
      if (err instanceof DecodeError) return 'reject'
      throw err
    }
    const checked = this.checkIncoming(message)
    if (!checked.ok) {
      this.#m.logger.debug({ reason: checked.reason }, 'gossiped report refused')
      // a report for an epoch outside the window is stale, not invalid
      return checked.stale === true ? 'ignore' : 'reject'
    }
    const existing = this.#reports.get(checked.epoch)?.get(toHex(message.publicKey))
    if (existing == null) {
      return { accept: { epoch: checked.epoch, message, id: checked.id } }
    }
    if (existing.id === checked.id) return 'ignore'
    return this.add(checked.epoch, message, checked.id).then(() => 'reject' as const)
  }

  #serve (bytes: Uint8Array): Uint8Array {
    const [version, epoch] = shape.array(decodeCbor(bytes, 64, 'reports request'), 'reports request', 2)
    if (version !== 1) throw new DecodeError('reports request: unsupported version')
    const wanted = shape.uint(epoch, 'reports request.epoch')
    const twin = this.#twins.get(wanted)
    return encodeCbor([1, [...[...(this.#reports.get(wanted)?.values() ?? [])].map((r) => r.message), ...(twin != null ? [twin] : [])].map(messageToWire)])
  }

  /** TEST ONLY (rewards.fault = equivocate): this node's second, conflicting report, also served to direct requests like a real equivocator would send it, not only by gossip. */
  readonly #twins = new Map<number, ClientMessage>()

  addTwin (epoch: number, message: ClientMessage): void {
    this.#twins.set(epoch, message)
  }
}
