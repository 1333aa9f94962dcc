import { describe, it, expect } from 'vitest'
import { blockHash, proposalSigningBytes } from '../../../src/block/encoding.js'
import { encodeCbor } from '../../../src/codec/cbor.js'
import { toHex } from '../../../src/codec/bytes.js'
import { encodeHeader } from '../../../src/block/encoding.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { Bucket, Database, VoteStore, type Vote } from '../../../src/storage/index.js'
import { certifiedBlock, key, members, signedMessage, norm } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

const keys = members(4)
const [k0, k1] = keys as [(typeof keys)[number], (typeof keys)[number]]
const h = (byte: number): Uint8Array => new Uint8Array(32).fill(byte)
const creators = keys.map((k) => k.publicKey)
const voteId = (v: Vote): string => `${v.round}:${toHex(v.creator)}:${v.kind}:${toHex(v.hash)}`

async function withStore<T> (dir: string, fn: (votes: VoteStore, db: Database) => Promise<T>): Promise<T> {
  const db = await Database.open(dir)
  try {
    return await fn(new VoteStore(db), db)
  } finally {
    await db.close()
  }
}

describe('VoteStore votes', () => {
  it('saveVote / load survive close and reopen', async () => {
    const dir = await tempDir()
    const votes: Vote[] = [
      { round: 2, creator: k0.publicKey, kind: 'echo', hash: h(0xa1) },
      { round: 2, creator: k0.publicKey, kind: 'ready', hash: h(0xa1) },
      { round: 1, creator: k1.publicKey, kind: 'echo', hash: h(0xb2) },
      { round: 10, creator: k1.publicKey, kind: 'ready', hash: h(0xc3) }
    ]
    await withStore(dir, async (store) => {
      expect((await store.load(64, creators)).votes).toEqual([])
      for (const v of votes) await store.saveVote(v)
    })
    const loaded = (await withStore(dir, async (store) => await store.load(64, creators))).votes
    expect(loaded.map(voteId).sort()).toEqual(votes.map(voteId).sort())
    for (const v of loaded) {
      expect(v.creator).toHaveLength(32)
      expect(v.hash).toHaveLength(32)
    }
  })

  it('raiseFloor forgets the creator\'s votes and decisions at or below it, atomically, and nothing of other creators', async () => {
    const dir = await tempDir()
    await withStore(dir, async (store, db) => {
      for (let round = 1; round <= 10; round++) {
        await store.saveVote({ round, creator: k0.publicKey, kind: 'ready', hash: h(round) })
        await store.saveVote({ round, creator: k1.publicKey, kind: 'echo', hash: h(round) })
        await db.write(store.decidedOps({ round, creator: k0.publicKey, hash: h(round) }))
      }
      await store.raiseFloor(k0.publicKey, 7, 0)
    })
    const state = await withStore(dir, async (store) => await store.load(64, creators))
    expect(state.floors.get(toHex(k0.publicKey))).toBe(7)
    expect(state.floors.has(toHex(k1.publicKey))).toBe(false)
    expect(state.votes.filter((v) => toHex(v.creator) === toHex(k0.publicKey)).map((v) => v.round)).toEqual([8, 9, 10])
    expect(state.votes.filter((v) => toHex(v.creator) === toHex(k1.publicKey))).toHaveLength(10)
    expect(state.decided.map((d) => d.round)).toEqual([8, 9, 10])
  })

  it('what a restart loads does not grow with history once floors follow it', async () => {
    const dir = await tempDir()
    const window = 16
    await withStore(dir, async (store, db) => {
      for (let round = 1; round <= 400; round++) {
        await db.write([...store.decidedOps({ round, creator: k0.publicKey, hash: h(round % 256) })])
        await store.saveVote({ round, creator: k0.publicKey, kind: 'ready', hash: h(round % 256) })
        if (round > window) await store.raiseFloor(k0.publicKey, round - window, round - window - 1)
      }
    })
    const state = await withStore(dir, async (store) => await store.load(window, creators))
    expect(state.votes).toHaveLength(window)
    expect(state.decided).toHaveLength(window)
    expect(state.floors.get(toHex(k0.publicKey))).toBe(400 - window)
  })
})

describe('VoteStore migration from the layout without floors', () => {
  it('moves the recent legacy votes, turns delivered ones into decisions, sets floors, and drops the rest', async () => {
    const dir = await tempDir()
    const delivered = certifiedBlock({ members: keys, creator: 1, round: 299, createdAt: 5 })
    await withStore(dir, async (_store, db) => {
      const pad = (n: number): string => String(n).padStart(16, '0')
      const ops = []
      for (let round = 1; round <= 300; round++) {
        const hash = round === 299 ? delivered.hash : h(round % 256)
        ops.push({ type: 'put' as const, bucket: Bucket.vote, key: `${pad(round)}:${toHex(k1.publicKey)}:ready`, value: new TextEncoder().encode(toHex(hash)) })
      }
      ops.push({ type: 'put' as const, bucket: Bucket.blockInfo, key: toHex(delivered.hash), value: new TextEncoder().encode('{"localHeight":1}') })
      // legacy evidence: three proposals for one slot (only a pair is kept)
      for (const createdAt of [1, 2, 3]) {
        const c = certifiedBlock({ members: keys, creator: 1, round: 6, createdAt })
        ops.push({ type: 'put' as const, bucket: Bucket.evidence, key: `${pad(6)}:${toHex(k1.publicKey)}:${toHex(c.hash)}`, value: encodeCbor([encodeHeader(c.block.header), k1.sign(proposalSigningBytes(6, k1.publicKey, c.hash))]) })
      }
      await db.write(ops)
    })
    const state = await withStore(dir, async (store) => await store.load(64, creators))
    expect(state.floors.get(toHex(k1.publicKey))).toBe(300 - 64)
    expect(state.votes.map((v) => v.round)).toEqual(Array.from({ length: 64 }, (_, i) => 237 + i))
    expect(state.decided.map((d) => [d.round, toHex(d.hash)])).toEqual([[299, toHex(delivered.hash)]])
    const evidence = await withStore(dir, async (store) => await store.evidence())
    expect(evidence).toHaveLength(1)
    // idempotent: a second start migrates nothing more and loads the same
    const again = await withStore(dir, async (store, db) => {
      const legacy: string[] = []
      for await (const k of db.bucket(Bucket.vote).keys()) legacy.push(k)
      expect(legacy).toEqual([])
      return await store.load(64, creators)
    })
    expect(again.votes.map(voteId)).toEqual(state.votes.map(voteId))
  })
})

describe('VoteStore evidence', () => {
  const signed = (createdAt: number, round = 6): { hash: Uint8Array, signature: Uint8Array, header: ReturnType<typeof certifiedBlock>['block']['header'] } => {
    const c = certifiedBlock({ members: keys, creator: 1, round, createdAt })
    return { hash: c.hash, header: c.block.header, signature: k1.sign(proposalSigningBytes(round, k1.publicKey, c.hash)) }
  }

  it('keeps the first conflicting pair of a slot across reopen, and verifiable', async () => {
    const dir = await tempDir()
    const [a, b, c] = [signed(1), signed(2), signed(3)]
    await withStore(dir, async (store) => {
      expect(await store.evidence()).toEqual([])
      expect(await store.saveEvidence({ round: 6, creator: k1.publicKey, first: a, second: b }, 100)).toBe(true)
      // a later pair for the same slot adds nothing
      expect(await store.saveEvidence({ round: 6, creator: k1.publicKey, first: a, second: c }, 100)).toBe(false)
    })
    const evidence = await withStore(dir, async (store) => await store.evidence())
    expect(evidence).toHaveLength(1)
    const e = evidence[0]!
    expect([e.round, toHex(e.creator), toHex(e.first.hash), toHex(e.second.hash)]).toEqual([6, toHex(k1.publicKey), toHex(a.hash), toHex(b.hash)])
    for (const p of [e.first, e.second]) {
      expect(toHex(blockHash(p.header!))).toBe(toHex(p.hash))
      expect(verifySignature(k1.publicKey, proposalSigningBytes(6, k1.publicKey, p.hash), p.signature)).toBe(true)
    }
    expect(norm(e.first.header)).toEqual(norm(a.header))
  })

  it('keeps at most maxSlots slots, dropping the oldest rounds', async () => {
    const dir = await tempDir()
    await withStore(dir, async (store) => {
      for (let round = 1; round <= 12; round++) {
        await store.saveEvidence({ round, creator: k1.publicKey, first: signed(1, round), second: signed(2, round) }, 5)
      }
      expect((await store.evidence()).map((e) => e.round)).toEqual([12, 11, 10, 9, 8])
    })
  })
})

describe('VoteStore producer state and own proposals', () => {
  const client = key(0x0c)
  const own = (round: number, height: number): { block: ReturnType<typeof certifiedBlock>['block'], signature: Uint8Array } => {
    const c = certifiedBlock({ members: keys, creator: 0, round, height, messages: [signedMessage(client, { label: `r${round}` })] })
    return { block: c.block, signature: k0.sign(proposalSigningBytes(round, k0.publicKey, c.hash)) }
  }

  it('producer state defaults to zero and follows saveOwnProposal', async () => {
    const dir = await tempDir()
    await withStore(dir, async (store) => {
      expect(await store.producerState()).toEqual({ lastRound: 0, lastHeight: 0 })
      expect(await store.pendingOwnProposals()).toEqual([])
      await store.saveOwnProposal({ lastRound: 1, lastHeight: 1 }, own(1, 1))
      expect(await store.producerState()).toEqual({ lastRound: 1, lastHeight: 1 })
      await store.saveOwnProposal({ lastRound: 2, lastHeight: 2 }, own(2, 2))
      expect(await store.producerState()).toEqual({ lastRound: 2, lastHeight: 2 })
    })
    expect(await withStore(dir, async (store) => await store.producerState())).toEqual({ lastRound: 2, lastHeight: 2 })
  })

  it('pendingOwnProposals survives reopen, in round order; clearing removes them', async () => {
    const dir = await tempDir()
    const p2 = own(2, 1)
    const p10 = own(10, 2)
    const p3 = own(3, 3)
    await withStore(dir, async (store) => {
      await store.saveOwnProposal({ lastRound: 2, lastHeight: 1 }, p2)
      await store.saveOwnProposal({ lastRound: 10, lastHeight: 2 }, p10)
      await store.saveOwnProposal({ lastRound: 10, lastHeight: 3 }, p3)
    })
    await withStore(dir, async (store, db) => {
      const pending = await store.pendingOwnProposals()
      expect(pending.map((p) => p.block.header.round)).toEqual([2, 3, 10])
      expect(norm(pending[0])).toEqual(norm(p2))
      expect(norm(pending[2])).toEqual(norm(p10))
      await db.write([store.clearOwnProposalOp(3)])
      await store.clearOwnProposals([99]) // unknown: no-op
      // the producer state is not touched by clearing
      expect(await store.producerState()).toEqual({ lastRound: 10, lastHeight: 3 })
    })
    await withStore(dir, async (store) => {
      expect((await store.pendingOwnProposals()).map((p) => p.block.header.round)).toEqual([2, 10])
      await store.clearOwnProposals([2, 10])
      expect(await store.pendingOwnProposals()).toEqual([])
    })
  })
})

describe('RangePruner', () => {
  it('deletes keys below a moving bound, resuming where it stopped', async () => {
    const { RangePruner } = await import('../../../src/storage/index.js')
    const dir = await tempDir()
    await withStore(dir, async (_store, db) => {
      const pad = (n: number): string => String(n).padStart(16, '0')
      await db.write(Array.from({ length: 10 }, (_, i) => ({ type: 'put' as const, bucket: Bucket.metrics, key: pad(i), value: new Uint8Array([i]) })))
      const pruner = new RangePruner(db, Bucket.metrics)
      expect(await pruner.pruneBelow(pad(4))).toEqual([0, 1, 2, 3].map(pad))
      expect(await pruner.pruneBelow(pad(4))).toEqual([])
      expect(await pruner.pruneBelow(pad(2))).toEqual([])
      expect(await pruner.pruneBelow(pad(7))).toEqual([4, 5, 6].map(pad))
      const left: string[] = []
      for await (const k of db.bucket(Bucket.metrics).keys()) left.push(k)
      expect(left).toEqual([7, 8, 9].map(pad))
    })
  })
})
