import { decodeCbor, encodeCbor, shape } from '../codec/cbor.js'
import { fromHex, toHex } from '../codec/bytes.js'
import { blockFromWire, blockToWire } from '../block/wire.js'
import { LIMITS, type Block, type BlockHeader } from '../block/types.js'
import { decodeHeader, encodeHeader } from '../block/encoding.js'
import { Bucket } from './buckets.js'
import { jsonBytes, parseJsonBytes, type Database, type WriteOp } from './database.js'

export interface Vote {
  round: number
  creator: Uint8Array
  kind: 'echo' | 'ready'
  hash: Uint8Array
}

/** An RBC instance this node delivered (or took as delivered from a certified block). */
export interface Decided {
  round: number
  creator: Uint8Array
  hash: Uint8Array
  /** The creator's proposal signature, when this node saw the PROPOSE (for later equivocation evidence). */
  proposalSignature?: Uint8Array
}

/** A proposal signature over (round, creator, hash), with the header when it is known. */
export interface SignedHash {
  hash: Uint8Array
  signature: Uint8Array
  header?: BlockHeader
}

/** Two signed proposals of one creator for one round: transferable proof of equivocation. */
export interface EquivocationEvidence {
  round: number
  creator: Uint8Array
  first: SignedHash
  second: SignedHash
}

export interface SignedProposal {
  block: Block
  signature: Uint8Array
}

export interface ProducerState {
  lastRound: number
  lastHeight: number
}

/** What a restart must remember to never vote against itself; bounded by the creators' floors. */
export interface RbcDurableState {
  /** creator (hex) → every round ≤ it is closed */
  floors: Map<string, number>
  votes: Vote[]
  decided: Decided[]
}

const pad = (n: number): string => String(n).padStart(16, '0')
const STATE_VERSION_KEY = 'rbc-state-version'
const STATE_VERSION = 2
const EVIDENCE_MAX_BYTES = 16 * 1024

function voteKey (creator: Uint8Array, round: number, kind: 'echo' | 'ready'): string {
  return `${toHex(creator)}:${pad(round)}:${kind}`
}

function decidedKey (creator: Uint8Array, round: number): string {
  return `${toHex(creator)}:${pad(round)}`
}

function signedHashToWire (s: SignedHash): unknown[] {
  return [s.hash, s.signature, s.header == null ? null : encodeHeader(s.header)]
}

function signedHashFromWire (value: unknown, what: string): SignedHash {
  const [hash, signature, header] = shape.array(value, what, 3)
  return {
    hash: shape.bytes(hash, `${what}.hash`, 32),
    signature: shape.bytes(signature, `${what}.signature`, 64),
    header: header === null ? undefined : decodeHeader(shape.bytes(header, `${what}.header`))
  }
}

/**
 * The RBC facts that must survive a crash, kept compactly:
 *
 * - per creator a **floor**: every round ≤ it is closed for good (this node never votes in it
 *   again), so nothing below it needs remembering;
 * - the votes this node sent above the floor (it never signs a conflicting hash after a restart);
 * - the instances it decided above the floor (a restart does not reopen them);
 * - one equivocation pair per slot, bounded in number;
 * - its own producer state and undelivered own proposals.
 *
 * Raising a floor deletes what lies below it in the same atomic write, so what a restart loads
 * does not grow with history. Votes and own proposals are written with sync: they are
 * acknowledged (sent) right after.
 */
export class VoteStore {
  readonly #db: Database

  constructor (db: Database) {
    this.#db = db
  }

  /**
   * Loads the durable state of `creators` (migrating a pre-floor database once). Each creator's
   * entries are read from its floor up: what lies below (deleted, possibly not yet compacted
   * away by LevelDB) is never scanned, so loading does not slow down with history.
   */
  async load (window: number, creators: readonly Uint8Array[]): Promise<RbcDurableState> {
    await this.#migrate(window)
    const floors = new Map<string, number>()
    const votes: Vote[] = []
    const decided: Decided[] = []
    for (const creator of creators) {
      const c = toHex(creator)
      const raw = await this.#db.bucket(Bucket.rbcFloor).get(c)
      const floor = raw == null ? 0 : Number(new TextDecoder().decode(raw))
      if (floor > 0) floors.set(c, floor)
      const range = { gte: `${c}:${pad(floor + 1)}`, lt: `${c};` }
      for await (const [key, value] of this.#db.bucket(Bucket.rbcVote).entries(range)) {
        const [, round, kind] = key.split(':')
        if ((kind !== 'echo' && kind !== 'ready') || value.length !== 32) continue
        votes.push({ round: Number(round), creator, kind, hash: value })
      }
      for await (const [key, value] of this.#db.bucket(Bucket.rbcDecided).entries(range)) {
        const [hash, signature] = shape.array(decodeCbor(value, 256, 'decided'), 'decided', 2)
        decided.push({ round: Number(key.split(':')[1]), creator, hash: shape.bytes(hash, 'decided.hash', 32), proposalSignature: signature === null ? undefined : shape.bytes(signature, 'decided.signature', 64) })
      }
    }
    return { floors, votes, decided }
  }

  /** Durable (synced) once this resolves: the vote may be sent. */
  async saveVote (vote: Vote): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.rbcVote, key: voteKey(vote.creator, vote.round, vote.kind), value: vote.hash }], { sync: true })
  }

  /** The operations that record a decided instance (written with the delivered block). */
  decidedOps (d: Decided): WriteOp[] {
    return [{ type: 'put', bucket: Bucket.rbcDecided, key: decidedKey(d.creator, d.round), value: encodeCbor([d.hash, d.proposalSignature ?? null]) }]
  }

  /**
   * Closes every round ≤ `floor` of `creator` and forgets its votes and decisions there,
   * atomically. Only rounds above `previous` (the floor before) are scanned: below it all is gone.
   */
  async raiseFloor (creator: Uint8Array, floor: number, previous: number, extra: WriteOp[] = []): Promise<void> {
    const c = toHex(creator)
    const ops: WriteOp[] = [...extra, { type: 'put', bucket: Bucket.rbcFloor, key: c, value: new TextEncoder().encode(String(floor)) }]
    const range = { gte: `${c}:${pad(previous + 1)}`, lte: `${c}:${pad(floor)};` }
    for (const bucket of [Bucket.rbcVote, Bucket.rbcDecided] as const) {
      for await (const key of this.#db.bucket(bucket).keys(range)) ops.push({ type: 'del', bucket, key })
    }
    await this.#db.write(ops)
  }

  /** This node's persisted votes for `creators` (above their floors), in (creator, round) order. */
  async votes (creators: readonly Uint8Array[]): Promise<Vote[]> {
    return (await this.load(Number.MAX_SAFE_INTEGER, creators)).votes
  }

  /**
   * Keeps the first conflicting pair of a slot (later ones add nothing) and at most `maxSlots`
   * slots: the oldest rounds go first.
   */
  async saveEvidence (evidence: EquivocationEvidence, maxSlots: number): Promise<boolean> {
    const bucket = this.#db.bucket(Bucket.rbcEvidence)
    const key = `${pad(evidence.round)}:${toHex(evidence.creator)}`
    if (await bucket.get(key) != null) return false
    const ops: WriteOp[] = [{ type: 'put', bucket: Bucket.rbcEvidence, key, value: encodeCbor([signedHashToWire(evidence.first), signedHashToWire(evidence.second)]) }]
    // kept at most maxSlots, so this scan is bounded too
    const keys: string[] = []
    for await (const k of bucket.keys()) keys.push(k)
    for (const old of keys.slice(0, Math.max(0, keys.length + 1 - maxSlots))) ops.push({ type: 'del', bucket: Bucket.rbcEvidence, key: old })
    await this.#db.write(ops)
    return true
  }

  /** Equivocation evidence, newest rounds first. */
  async evidence (limit = 100): Promise<EquivocationEvidence[]> {
    const out: EquivocationEvidence[] = []
    for await (const [key, value] of this.#db.bucket(Bucket.rbcEvidence).entries({ reverse: true, limit })) {
      const [round, creator] = key.split(':')
      const [first, second] = shape.array(decodeCbor(value, EVIDENCE_MAX_BYTES, 'evidence'), 'evidence', 2)
      out.push({ round: Number(round), creator: fromHex(creator ?? '', 32) ?? new Uint8Array(32), first: signedHashFromWire(first, 'evidence.first'), second: signedHashFromWire(second, 'evidence.second') })
    }
    return out
  }

  async producerState (): Promise<ProducerState> {
    const raw = await this.#db.bucket(Bucket.producer).get('state')
    return raw == null ? { lastRound: 0, lastHeight: 0 } : parseJsonBytes<ProducerState>(raw)
  }

  /** Records an own proposal before it is sent (synced): round and height are never reused. */
  async saveOwnProposal (state: ProducerState, proposal: SignedProposal): Promise<void> {
    await this.#db.write([
      { type: 'put', bucket: Bucket.producer, key: 'state', value: jsonBytes(state) },
      { type: 'put', bucket: Bucket.producer, key: `pending:${pad(proposal.block.header.round)}`, value: encodeCbor([blockToWire(proposal.block), proposal.signature]) }
    ], { sync: true })
  }

  /** The operation that forgets a delivered own proposal (written with the delivered block). */
  clearOwnProposalOp (round: number): WriteOp {
    return { type: 'del', bucket: Bucket.producer, key: `pending:${pad(round)}` }
  }

  async clearOwnProposals (rounds: readonly number[]): Promise<void> {
    await this.#db.write(rounds.map((round) => this.clearOwnProposalOp(round)))
  }

  /** Own proposals not yet delivered (to re-send after a restart). */
  async pendingOwnProposals (): Promise<SignedProposal[]> {
    const out: SignedProposal[] = []
    for await (const [, value] of this.#db.bucket(Bucket.producer).entries({ gte: 'pending:', lt: 'pending;' })) {
      const [block, signature] = shape.array(decodeCbor(value, LIMITS.blockBytes * 2, 'pending proposal'), 'pending proposal', 2)
      out.push({ block: blockFromWire(block), signature: shape.bytes(signature, 'pending.signature', 64) })
    }
    return out
  }

  /**
   * Once, for a database written before floors existed: every vote was kept forever, by round.
   * Each creator's floor becomes its highest voted round minus `window`; the votes above it move
   * to the new layout, and votes for blocks already delivered become decided instances.
   */
  async #migrate (window: number): Promise<void> {
    const meta = this.#db.bucket(Bucket.meta)
    if (await meta.get(STATE_VERSION_KEY) != null) return
    const legacy = this.#db.bucket(Bucket.vote)
    const highest = new Map<string, number>()
    for await (const key of legacy.keys()) {
      const [round, creator] = key.split(':')
      highest.set(creator ?? '', Math.max(highest.get(creator ?? '') ?? 0, Number(round)))
    }
    const ops: WriteOp[] = []
    for (const [creator, top] of highest) {
      if (top > window) ops.push({ type: 'put', bucket: Bucket.rbcFloor, key: creator, value: new TextEncoder().encode(String(top - window)) })
    }
    for await (const [key, value] of legacy.entries()) {
      ops.push({ type: 'del', bucket: Bucket.vote, key })
      const [roundText, creator, kind] = key.split(':')
      const round = Number(roundText)
      const creatorBytes = fromHex(creator ?? '', 32)
      const hash = fromHex(new TextDecoder().decode(value), 32)
      if (creatorBytes == null || hash == null || (kind !== 'echo' && kind !== 'ready')) continue
      if (round <= (highest.get(creator ?? '') ?? 0) - window) continue
      ops.push({ type: 'put', bucket: Bucket.rbcVote, key: voteKey(creatorBytes, round, kind), value: hash })
      if (await this.#db.bucket(Bucket.blockInfo).get(toHex(hash)) != null) ops.push(...this.decidedOps({ round, creator: creatorBytes, hash }))
    }
    const slots = new Map<string, SignedHash[]>()
    for await (const [key, value] of this.#db.bucket(Bucket.evidence).entries()) {
      ops.push({ type: 'del', bucket: Bucket.evidence, key })
      const [round, creator] = key.split(':')
      try {
        const [header, signature] = shape.array(decodeCbor(value, 4096, 'evidence'), 'evidence', 2)
        const decoded = decodeHeader(shape.bytes(header, 'evidence.header'))
        const list = slots.get(`${round ?? ''}:${creator ?? ''}`) ?? []
        const hash = fromHex(key.split(':')[2] ?? '', 32)
        if (hash != null && list.length < 2) list.push({ hash, signature: shape.bytes(signature, 'evidence.signature', 64), header: decoded })
        slots.set(`${round ?? ''}:${creator ?? ''}`, list)
      } catch {
        // unreadable legacy evidence is dropped
      }
    }
    for (const [slot, pair] of slots) {
      if (pair.length === 2) ops.push({ type: 'put', bucket: Bucket.rbcEvidence, key: slot, value: encodeCbor(pair.map(signedHashToWire)) })
    }
    ops.push({ type: 'put', bucket: Bucket.meta, key: STATE_VERSION_KEY, value: jsonBytes(STATE_VERSION) })
    await this.#db.write(ops, { sync: true })
  }
}
