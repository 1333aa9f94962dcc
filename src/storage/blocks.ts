import { decodeCbor, encodeCbor } from '../codec/cbor.js'
import { toHex } from '../codec/bytes.js'
import { blockFromWire, blockToWire, certificateFromWire, certificateToWire } from '../block/wire.js'
import { messageId } from '../block/encoding.js'
import { LIMITS, type Block, type Certificate } from '../block/types.js'
import { Bucket } from './buckets.js'
import { jsonBytes, parseJsonBytes, type Database, type WriteOp } from './database.js'

export interface StoredMember {
  name: string
  /** hex */
  publicKey: string
  address: string
}

export interface BlockInfo {
  /** Position in this node's delivered log (1-based, local to this node). */
  localHeight: number
  deliveredAt: string
  /** hex */
  membershipId: string
  /**
   * The header fields a block list shows, so that listing never decodes whole blocks (up to
   * 8 MiB each). Absent on blocks delivered by versions before it.
   */
  summary?: BlockSummary
}

export interface BlockSummary {
  round: number
  /** hex */
  creator: string
  height: number
  createdAt: number
  messageCount: number
}

export interface StoredBlock {
  hash: string
  block: Block
  info: BlockInfo
}

export interface MessageLocation {
  /** Block hash (hex). */
  block: string
  /** Position in the block. */
  index: number
}

export interface DeliveredRecord {
  hash: Uint8Array
  block: Block
  certificate: Certificate
  membershipId: Uint8Array
  members: readonly StoredMember[]
  deliveredAt: Date
}

const HEIGHT_DIGITS = 16
const pad = (n: number): string => String(n).padStart(HEIGHT_DIGITS, '0')
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()
const EMPTY = new Uint8Array(0)
/** Meta key set once msg-seen holds every message of msg-loc and of the legacy msg index. */
const DELIVERED_INDEX_KEY = 'msg-seen-filled'
const FILL_BATCH = 10_000

/**
 * Fills the msg-seen index from the location indexes, once, for stores written before it
 * existed: batches of FILL_BATCH unsynced puts, then the meta flag synced (a crash before the
 * flag only means the next open fills again; the puts are idempotent).
 */
async function fillDeliveredIndex (db: Database): Promise<void> {
  const meta = db.bucket(Bucket.meta)
  if (await meta.get(DELIVERED_INDEX_KEY) != null) return
  let ops: WriteOp[] = []
  const flush = async (): Promise<void> => {
    if (ops.length > 0) await db.write(ops)
    ops = []
  }
  for (const [bucket, idOf] of [[Bucket.messageLocation, (k: string) => k.slice(0, k.indexOf(':'))], [Bucket.messageIndex, (k: string) => k]] as const) {
    for await (const key of db.bucket(bucket).keys()) {
      ops.push({ type: 'put', bucket: Bucket.messageDelivered, key: idOf(key), value: EMPTY })
      if (ops.length >= FILL_BATCH) await flush()
    }
  }
  await flush()
  await meta.put(DELIVERED_INDEX_KEY, utf8.encode('1'), { sync: true })
}

/**
 * Delivered blocks with their certificates and the membership they were certified under, a
 * local height index and a message index. A delivery is one atomic write, so a crash leaves a
 * block either fully stored (with its certificate and indexes) or absent.
 */
export class BlockStore {
  readonly #db: Database
  #lastHeight: number
  #writes: Promise<void> = Promise.resolve()

  private constructor (db: Database, lastHeight: number) {
    this.#db = db
    this.#lastHeight = lastHeight
  }

  static async open (db: Database): Promise<BlockStore> {
    let last = 0
    for await (const key of db.bucket(Bucket.height).keys({ reverse: true, limit: 1 })) last = Number(key)
    await fillDeliveredIndex(db)
    return new BlockStore(db, last)
  }

  get lastHeight (): number {
    return this.#lastHeight
  }

  async has (hash: string): Promise<boolean> {
    return (await this.#db.bucket(Bucket.blockInfo).get(hash)) != null
  }

  /**
   * Stores a delivered block, with `extra` operations in the same atomic, synced write; returns
   * its local height (the existing one if already stored). Calls are serialised, so concurrent
   * deliveries get distinct, gap-free heights, and a height once answered is never reused.
   */
  async deliver (record: DeliveredRecord, extra: WriteOp[] = []): Promise<number> {
    const run = this.#writes.then(async () => await this.#deliver(record, extra))
    this.#writes = run.then(() => {}, () => {})
    return await run
  }

  async #deliver (record: DeliveredRecord, extra: WriteOp[]): Promise<number> {
    const hash = toHex(record.hash)
    const existing = await this.info(hash)
    if (existing != null) return existing.localHeight
    const height = this.#lastHeight + 1
    const mid = toHex(record.membershipId)
    const h = record.block.header
    const summary: BlockSummary = { round: h.round, creator: toHex(h.creator), height: h.height, createdAt: h.createdAt, messageCount: h.messageCount }
    const info: BlockInfo = { localHeight: height, deliveredAt: record.deliveredAt.toISOString(), membershipId: mid, summary }
    const ops: WriteOp[] = [
      { type: 'put', bucket: Bucket.block, key: hash, value: encodeCbor(blockToWire(record.block)) },
      { type: 'put', bucket: Bucket.certificate, key: hash, value: encodeCbor(certificateToWire(record.certificate)) },
      { type: 'put', bucket: Bucket.blockInfo, key: hash, value: jsonBytes(info) },
      { type: 'put', bucket: Bucket.height, key: pad(height), value: utf8.encode(hash) },
      { type: 'put', bucket: Bucket.membership, key: mid, value: jsonBytes(record.members) }
    ]
    // every location of every message: a message may be in several blocks (at least once)
    for (const [index, m] of record.block.messages.entries()) {
      const id = toHex(messageId(m))
      ops.push({ type: 'put', bucket: Bucket.messageLocation, key: `${id}:${hash}`, value: utf8.encode(String(index)) })
      ops.push({ type: 'put', bucket: Bucket.messageDelivered, key: id, value: EMPTY })
    }
    await this.#db.write([...ops, ...extra], { sync: true })
    this.#lastHeight = height
    return height
  }

  async info (hash: string): Promise<BlockInfo | undefined> {
    const raw = await this.#db.bucket(Bucket.blockInfo).get(hash)
    return raw == null ? undefined : parseJsonBytes<BlockInfo>(raw)
  }

  async block (hash: string): Promise<StoredBlock | undefined> {
    const [raw, info] = await Promise.all([this.#db.bucket(Bucket.block).get(hash), this.info(hash)])
    if (raw == null || info == null) return undefined
    return { hash, block: blockFromWire(decodeCbor(raw, LIMITS.blockBytes * 2, 'stored block')), info }
  }

  async hashAtHeight (height: number): Promise<string | undefined> {
    const raw = await this.#db.bucket(Bucket.height).get(pad(height))
    return raw == null ? undefined : fromUtf8.decode(raw)
  }

  async atHeight (height: number): Promise<StoredBlock | undefined> {
    const hash = await this.hashAtHeight(height)
    return hash == null ? undefined : await this.block(hash)
  }

  async last (): Promise<StoredBlock | undefined> {
    return this.#lastHeight === 0 ? undefined : await this.atHeight(this.#lastHeight)
  }

  /** Hashes by local height: `limit` entries from `fromHeight` upwards (or downwards when reverse). */
  async list (opts: { fromHeight?: number, limit: number, reverse?: boolean }): Promise<Array<{ height: number, hash: string }>> {
    const out: Array<{ height: number, hash: string }> = []
    const range = opts.reverse === true
      ? { lte: pad(opts.fromHeight ?? this.#lastHeight), reverse: true, limit: opts.limit }
      : { gte: pad(opts.fromHeight ?? 1), limit: opts.limit }
    for await (const [key, value] of this.#db.bucket(Bucket.height).entries(range)) out.push({ height: Number(key), hash: fromUtf8.decode(value) })
    return out
  }

  async certificate (hash: string): Promise<Certificate | undefined> {
    const raw = await this.#db.bucket(Bucket.certificate).get(hash)
    return raw == null ? undefined : certificateFromWire(decodeCbor(raw, 1024 * 1024, 'stored certificate'))
  }

  async membership (membershipId: string): Promise<StoredMember[] | undefined> {
    const raw = await this.#db.bucket(Bucket.membership).get(membershipId)
    return raw == null ? undefined : parseJsonBytes<StoredMember[]>(raw)
  }

  /**
   * Whether a message is in a delivered block: one point read on the event loop, no thread-pool
   * round trip (the duplicate check of every client message). Storage errors throw.
   */
  wasDelivered (id: string): boolean {
    return this.#db.bucket(Bucket.messageDelivered).getSync(id) != null
  }

  /**
   * Where a message was delivered: its canonical location (the block with the lowest hash among
   * those holding it), if any. Every honest node that delivered the same blocks names the same one.
   */
  async messageLocation (id: string): Promise<MessageLocation | undefined> {
    return (await this.messageLocations(id, 1))[0]
  }

  /** Up to `limit` blocks holding a message, canonical (lowest hash) first. */
  async messageLocations (id: string, limit: number): Promise<MessageLocation[]> {
    const out: MessageLocation[] = []
    for await (const [key, value] of this.#db.bucket(Bucket.messageLocation).entries({ gt: `${id}:`, lt: `${id};`, limit })) {
      out.push({ block: key.slice(id.length + 1), index: Number(fromUtf8.decode(value)) })
    }
    if (out.length === 0) {
      // delivered by a version that kept one location per message
      const raw = await this.#db.bucket(Bucket.messageIndex).get(id)
      if (raw != null) out.push(parseJsonBytes<MessageLocation>(raw))
    }
    return out
  }
}
