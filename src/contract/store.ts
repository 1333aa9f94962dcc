import { Bucket, jsonBytes, parseJsonBytes, type Database, type WriteOp } from '../storage/index.js'
import type { CommitteeJson, EpochRecordJson, ParametersJson } from '../epochs/record.js'
import type { Anchor, RoundState } from './round.js'
import type { MembershipJson } from './membership.js'

/** Evidence behind a ban, kept by its hash (GET /contract/evidence/{hash}). */
export interface StoredEvidence {
  hash: string
  offender: string
  epoch: number
  /** who submitted it (public key, hex) and when (ms) */
  submittedBy: string
  submittedAt: number
  evidence: unknown
}

/** Where the coordinator keeps its state; a level implementation below, in-memory ones in tests. */
export interface CoordinatorStore {
  genesis: () => Promise<number | undefined>
  setGenesis: (ms: number) => Promise<void>
  /** The epoch length the genesis was fixed with (epoch numbers depend on both). */
  epochMs: () => Promise<number | undefined>
  setEpochMs: (ms: number) => Promise<void>
  record: (epoch: number) => Promise<EpochRecordJson | undefined>
  /** A record's stored JSON text (UTF-8), as it was committed: served as is, without parsing it. */
  recordJson: (epoch: number) => Promise<Uint8Array | undefined>
  /** Records by epoch: `limit` from `from` upwards (or downwards when reverse). */
  records: (opts: { from?: number, limit: number, reverse?: boolean }) => Promise<EpochRecordJson[]>
  /** Durably stores an accepted record (atomic, synced to disk). */
  commit: (record: EpochRecordJson) => Promise<void>
  /** Round 0: the genesis, with the committee and parameters the coordinator started with. */
  genesisRound: () => Promise<GenesisRound | undefined>
  setGenesisRound: (round: GenesisRound) => Promise<void>
  /** Every stored round that is still open (committed ones are deleted at commit). */
  openRounds: () => Promise<RoundState[]>
  round: (epoch: number) => Promise<RoundState | undefined>
  /**
   * Durably (synced, one batch) stores a round after a transition: its header always, its anchor
   * and the rows of the listed chunks when they changed. A rollback rewrites it all.
   */
  saveRound: (round: RoundState, changed: { anchor?: boolean, rows?: readonly number[] }) => Promise<void>
  /**
   * The commit of tryAdvance: the record and the end of the round (its state deleted) in one
   * atomic, synced batch, so a crash leaves either an open round or a committed record.
   */
  commitRound: (record: EpochRecordJson, round: RoundState, membership?: MembershipJson) => Promise<void>
  /** The living committee's state (src/contract/membership.ts), once it was first saved. */
  membership: () => Promise<MembershipJson | undefined>
  /** Durably (synced) stores the committee's state, in the same batch the evidence behind a new ban and the deletion of forgotten bans' evidence. */
  saveMembership: (membership: MembershipJson, evidence?: { add?: StoredEvidence, remove?: readonly string[] }) => Promise<void>
  evidence: (hash: string) => Promise<StoredEvidence | undefined>
  /**
   * Records a nonce as used; false if it already was. With `issued`, the nonce's write is not
   * awaited but handed to `issued`, which must make whatever acknowledges the request wait for it.
   */
  useNonce: (key: string, timestamp: number, issued?: (write: Promise<void>) => void) => Promise<boolean>
  pruneNonces: (beforeMs: number) => Promise<number>
}

/** Round 0 of the lifecycle: what the coordinator started with (stored once, synced). */
export interface GenesisRound {
  round: 0
  genesisMs: number
  committee: CommitteeJson
  parameters: ParametersJson
  environment: string
}

const pad = (n: number): string => String(n).padStart(16, '0')

/** The header (rows and anchor left out), and the anchor and rows when they changed or are gone. */
function roundOps (round: RoundState, changed: { anchor?: boolean, rows?: readonly number[] }): WriteOp[] {
  const e = pad(round.epoch)
  const header: RoundState = { ...round, anchor: undefined, chunks: round.chunks.map((c) => c.contribution == null ? c : { ...c, contribution: { ...c.contribution, rows: [] } }) }
  const ops: WriteOp[] = [{ type: 'put', bucket: Bucket.contractRound, key: e, value: jsonBytes(header) }]
  if (changed.anchor === true) {
    ops.push(round.anchor == null
      ? { type: 'del', bucket: Bucket.contractRound, key: `${e}:anchor` }
      : { type: 'put', bucket: Bucket.contractRound, key: `${e}:anchor`, value: jsonBytes(round.anchor) })
  }
  for (const index of changed.rows ?? []) {
    const rows = round.chunks[index]?.contribution?.rows
    ops.push(rows == null
      ? { type: 'del', bucket: Bucket.contractRound, key: `${e}:rows:${index}` }
      : { type: 'put', bucket: Bucket.contractRound, key: `${e}:rows:${index}`, value: jsonBytes(rows) })
  }
  return ops
}

function deleteRoundOps (round: RoundState): WriteOp[] {
  const e = pad(round.epoch)
  return [
    { type: 'del', bucket: Bucket.contractRound, key: e },
    { type: 'del', bucket: Bucket.contractRound, key: `${e}:anchor` },
    ...round.chunks.map((c) => ({ type: 'del' as const, bucket: Bucket.contractRound, key: `${e}:rows:${c.index}` }))
  ]
}

/**
 * The coordinator's state in the level database. What it acknowledges is on disk first: genesis,
 * epoch length and records are synced writes, and the API answers 200 only after commit()
 * resolved. A failed write fails the whole store (Database is fail-stop), so nothing is answered
 * after it.
 */
export class LevelCoordinatorStore implements CoordinatorStore {
  readonly #db: Database
  /** nonce key → request timestamp: every stored one once loaded, and every claim; pruned like the stored ones */
  readonly #nonces = new Map<string, number>()
  #noncesLoaded: Promise<void> | undefined

  constructor (db: Database) {
    this.#db = db
  }

  async genesis (): Promise<number | undefined> {
    const raw = await this.#db.bucket(Bucket.contractMeta).get('genesis')
    return raw == null ? undefined : parseJsonBytes<number>(raw)
  }

  async setGenesis (ms: number): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractMeta, key: 'genesis', value: jsonBytes(ms) }], { sync: true })
  }

  async epochMs (): Promise<number | undefined> {
    const raw = await this.#db.bucket(Bucket.contractMeta).get('epoch-ms')
    return raw == null ? undefined : parseJsonBytes<number>(raw)
  }

  async setEpochMs (ms: number): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractMeta, key: 'epoch-ms', value: jsonBytes(ms) }], { sync: true })
  }

  async record (epoch: number): Promise<EpochRecordJson | undefined> {
    const raw = await this.recordJson(epoch)
    return raw == null ? undefined : parseJsonBytes<EpochRecordJson>(raw)
  }

  async recordJson (epoch: number): Promise<Uint8Array | undefined> {
    return await this.#db.bucket(Bucket.contractRecord).get(pad(epoch))
  }

  async records (opts: { from?: number, limit: number, reverse?: boolean }): Promise<EpochRecordJson[]> {
    const out: EpochRecordJson[] = []
    const range = opts.reverse === true
      ? { ...(opts.from != null ? { lte: pad(opts.from) } : {}), reverse: true, limit: opts.limit }
      : { gte: pad(opts.from ?? 0), limit: opts.limit }
    for await (const [, value] of this.#db.bucket(Bucket.contractRecord).entries(range)) out.push(parseJsonBytes<EpochRecordJson>(value))
    return out
  }

  async genesisRound (): Promise<GenesisRound | undefined> {
    const raw = await this.#db.bucket(Bucket.contractMeta).get('round-0')
    return raw == null ? undefined : parseJsonBytes<GenesisRound>(raw)
  }

  async setGenesisRound (round: GenesisRound): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractMeta, key: 'round-0', value: jsonBytes(round) }], { sync: true })
  }

  async openRounds (): Promise<RoundState[]> {
    const out: RoundState[] = []
    for await (const [key, value] of this.#db.bucket(Bucket.contractRound).entries()) {
      if (key.includes(':')) continue
      const header = parseJsonBytes<RoundState>(value)
      if (header.status === 'open') out.push(await this.#assemble(header))
    }
    return out
  }

  async round (epoch: number): Promise<RoundState | undefined> {
    const raw = await this.#db.bucket(Bucket.contractRound).get(pad(epoch))
    return raw == null ? undefined : await this.#assemble(parseJsonBytes<RoundState>(raw))
  }

  /** The stored header has no anchor and no rows: they are kept under their own keys. */
  async #assemble (header: RoundState): Promise<RoundState> {
    const bucket = this.#db.bucket(Bucket.contractRound)
    const anchor = await bucket.get(`${pad(header.epoch)}:anchor`)
    if (anchor != null) header.anchor = parseJsonBytes<Anchor>(anchor)
    for (const chunk of header.chunks) {
      if (chunk.contribution == null) continue
      const rows = await bucket.get(`${pad(header.epoch)}:rows:${chunk.index}`)
      chunk.contribution.rows = rows == null ? [] : parseJsonBytes(rows)
    }
    return header
  }

  async saveRound (round: RoundState, changed: { anchor?: boolean, rows?: readonly number[] }): Promise<void> {
    await this.#db.write(roundOps(round, changed), { sync: true })
  }

  async commitRound (record: EpochRecordJson, round: RoundState, membership?: MembershipJson): Promise<void> {
    await this.#db.write([
      { type: 'put', bucket: Bucket.contractRecord, key: pad(record.epoch), value: jsonBytes(record) },
      ...deleteRoundOps(round),
      ...(membership != null ? [{ type: 'put' as const, bucket: Bucket.contractMeta, key: 'membership', value: jsonBytes(membership) }] : [])
    ], { sync: true })
  }

  async membership (): Promise<MembershipJson | undefined> {
    const raw = await this.#db.bucket(Bucket.contractMeta).get('membership')
    return raw == null ? undefined : parseJsonBytes<MembershipJson>(raw)
  }

  async saveMembership (membership: MembershipJson, evidence: { add?: StoredEvidence, remove?: readonly string[] } = {}): Promise<void> {
    await this.#db.write([
      { type: 'put', bucket: Bucket.contractMeta, key: 'membership', value: jsonBytes(membership) },
      ...(evidence.add != null ? [{ type: 'put' as const, bucket: Bucket.contractEvidence, key: evidence.add.hash, value: jsonBytes(evidence.add) }] : []),
      ...(evidence.remove ?? []).map((hash) => ({ type: 'del' as const, bucket: Bucket.contractEvidence, key: hash }))
    ], { sync: true })
  }

  async evidence (hash: string): Promise<StoredEvidence | undefined> {
    const raw = await this.#db.bucket(Bucket.contractEvidence).get(hash)
    return raw == null ? undefined : parseJsonBytes<StoredEvidence>(raw)
  }

  async commit (record: EpochRecordJson): Promise<void> {
    await this.#db.write([{ type: 'put', bucket: Bucket.contractRecord, key: pad(record.epoch), value: jsonBytes(record) }], { sync: true })
  }

  /**
   * The used nonces still inside the skew window are all in memory: loaded from the store at the
   * first call (again at the next call if that read failed), checked and claimed there in one
   * synchronous step (so concurrent replays of one request cannot both pass), pruned by
   * pruneNonces. The check thus costs no storage read, and with `issued` the
   * request need not wait for the nonce's write, which would queue behind the synced write of the
   * request before it (README "Benchmark"). The write is not synced on its own: the request's own
   * change, written after it and synced, flushes the log the nonce is in (unless LevelDB switched
   * logs in between; it then syncs the old log's table when it writes it). A nonce lost to power
   * loss only reopens, within the skew window, a replay of a request whose outcome stands: refused
   * again, or 409 once the epoch is decided.
   */
  async useNonce (key: string, timestamp: number, issued?: (write: Promise<void>) => void): Promise<boolean> {
    await (this.#noncesLoaded ??= this.#loadNonces().catch((err: unknown) => {
      this.#noncesLoaded = undefined
      throw err
    }))
    if (this.#nonces.has(key)) return false
    this.#nonces.set(key, timestamp)
    const write = this.#db.bucket(Bucket.contractNonce).put(key, jsonBytes(timestamp))
    if (issued == null) await write
    else issued(write)
    return true
  }

  async #loadNonces (): Promise<void> {
    for await (const [key, value] of this.#db.bucket(Bucket.contractNonce).entries()) {
      if (!this.#nonces.has(key)) this.#nonces.set(key, parseJsonBytes<number>(value))
    }
  }

  /** Number of nonces held in memory (bounded by the prune rule, like the stored ones). */
  get noncesInMemory (): number {
    return this.#nonces.size
  }

  async pruneNonces (beforeMs: number): Promise<number> {
    // the same rule for the in-memory claims, including those never stored (a replay found on
    // disk, a request whose write failed): the timestamp check refuses them all by now
    for (const [key, timestamp] of this.#nonces) if (timestamp < beforeMs) this.#nonces.delete(key)
    const stale: string[] = []
    for await (const [key, value] of this.#db.bucket(Bucket.contractNonce).entries()) {
      if (parseJsonBytes<number>(value) < beforeMs) stale.push(key)
    }
    if (stale.length > 0) await this.#db.write(stale.map((key) => ({ type: 'del' as const, bucket: Bucket.contractNonce, key })))
    return stale.length
  }
}
