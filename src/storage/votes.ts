import { decodeCbor, encodeCbor, shape } from '../codec/cbor.js'
import { fromHex, toHex } from '../codec/bytes.js'
import { blockFromWire, blockToWire } from '../block/wire.js'
import { LIMITS, type Block, type BlockHeader } from '../block/types.js'
import { decodeHeader, encodeHeader } from '../block/encoding.js'
import { Bucket, jsonBytes, parseJsonBytes, type Database } from './database.js'

export interface Vote {
  round: number
  creator: Uint8Array
  kind: 'echo' | 'ready'
  hash: Uint8Array
}

export interface SignedProposal {
  block: Block
  signature: Uint8Array
}

export interface ProducerState {
  lastRound: number
  lastHeight: number
}

const pad = (n: number): string => String(n).padStart(16, '0')
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/**
 * The RBC facts that must survive a crash: the votes this node sent (so it never signs a
 * conflicting hash after a restart), equivocation evidence, and its own proposals.
 */
export class VoteStore {
  readonly #db: Database

  constructor (db: Database) {
    this.#db = db
  }

  /** Durable once this resolves. */
  async saveVote (vote: Vote): Promise<void> {
    await this.#db.bucket(Bucket.vote).put(`${pad(vote.round)}:${toHex(vote.creator)}:${vote.kind}`, utf8.encode(toHex(vote.hash)))
  }

  async loadVotes (): Promise<Vote[]> {
    const votes: Vote[] = []
    for await (const [key, value] of this.#db.bucket(Bucket.vote).entries()) {
      const [round, creator, kind] = key.split(':')
      const hash = fromHex(fromUtf8.decode(value), 32)
      const creatorBytes = fromHex(creator ?? '', 32)
      if (hash == null || creatorBytes == null || (kind !== 'echo' && kind !== 'ready')) continue
      votes.push({ round: Number(round), creator: creatorBytes, kind, hash })
    }
    return votes
  }

  /** Keeps a creator's signed proposal (header and signature) as equivocation evidence. */
  async saveEvidence (round: number, creator: Uint8Array, hash: Uint8Array, proposal: { header: BlockHeader, signature: Uint8Array }): Promise<void> {
    await this.#db.bucket(Bucket.evidence).put(`${pad(round)}:${toHex(creator)}:${toHex(hash)}`, encodeCbor([encodeHeader(proposal.header), proposal.signature]))
  }

  async evidence (): Promise<Array<{ round: number, creator: string, hash: string, header: BlockHeader, signature: Uint8Array }>> {
    const out = []
    for await (const [key, value] of this.#db.bucket(Bucket.evidence).entries()) {
      const [round, creator, hash] = key.split(':')
      const [header, signature] = shape.array(decodeCbor(value, 4096, 'evidence'), 'evidence', 2)
      out.push({ round: Number(round), creator: creator ?? '', hash: hash ?? '', header: decodeHeader(shape.bytes(header, 'evidence.header')), signature: shape.bytes(signature, 'evidence.signature', 64) })
    }
    return out
  }

  async producerState (): Promise<ProducerState> {
    const raw = await this.#db.bucket(Bucket.producer).get('state')
    return raw == null ? { lastRound: 0, lastHeight: 0 } : parseJsonBytes<ProducerState>(raw)
  }

  /** Records an own proposal before it is sent: round and height are never reused. */
  async saveOwnProposal (state: ProducerState, proposal: SignedProposal): Promise<void> {
    await this.#db.write([
      { type: 'put', bucket: Bucket.producer, key: 'state', value: jsonBytes(state) },
      { type: 'put', bucket: Bucket.producer, key: `pending:${pad(proposal.block.header.round)}`, value: encodeCbor([blockToWire(proposal.block), proposal.signature]) }
    ])
  }

  async clearOwnProposal (round: number): Promise<void> {
    await this.#db.bucket(Bucket.producer).del(`pending:${pad(round)}`)
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
}
