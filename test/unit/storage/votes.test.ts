import { describe, it, expect } from 'vitest'
import { blockHash, proposalSigningBytes } from '../../../src/block/encoding.js'
import { toHex } from '../../../src/codec/bytes.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { Database, VoteStore, type Vote } from '../../../src/storage/index.js'
import { certifiedBlock, key, members, signedMessage, norm } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

const keys = members(4)
const [k0, k1] = keys as [(typeof keys)[number], (typeof keys)[number]]
const h = (byte: number): Uint8Array => new Uint8Array(32).fill(byte)

async function withStore<T> (dir: string, fn: (votes: VoteStore) => Promise<T>): Promise<T> {
  const db = await Database.open(dir)
  try {
    return await fn(new VoteStore(db))
  } finally {
    await db.close()
  }
}

describe('VoteStore votes', () => {
  it('saveVote / loadVotes survive close and reopen', async () => {
    const dir = await tempDir()
    const votes: Vote[] = [
      { round: 2, creator: k0.publicKey, kind: 'echo', hash: h(0xa1) },
      { round: 2, creator: k0.publicKey, kind: 'ready', hash: h(0xa1) },
      { round: 1, creator: k1.publicKey, kind: 'echo', hash: h(0xb2) },
      { round: 10, creator: k1.publicKey, kind: 'ready', hash: h(0xc3) }
    ]
    await withStore(dir, async (store) => {
      expect(await store.loadVotes()).toEqual([])
      for (const v of votes) await store.saveVote(v)
    })
    const loaded = await withStore(dir, async (store) => await store.loadVotes())
    expect(loaded).toHaveLength(4)
    const key = (v: Vote): string => `${v.round}:${toHex(v.creator)}:${v.kind}:${toHex(v.hash)}`
    expect(loaded.map(key).sort()).toEqual(votes.map(key).sort())
    // rounds come back as numbers, in numeric round order (10 after 2)
    expect(loaded.map((v) => v.round)).toEqual([1, 2, 2, 10])
    for (const v of loaded) {
      expect(v.creator).toBeInstanceOf(Uint8Array)
      expect(v.creator).toHaveLength(32)
      expect(v.hash).toHaveLength(32)
    }
  })

  it('one vote per (round, creator, kind): a later save replaces the hash', async () => {
    const dir = await tempDir()
    await withStore(dir, async (store) => {
      await store.saveVote({ round: 3, creator: k0.publicKey, kind: 'echo', hash: h(1) })
      await store.saveVote({ round: 3, creator: k0.publicKey, kind: 'echo', hash: h(2) })
      await store.saveVote({ round: 3, creator: k1.publicKey, kind: 'echo', hash: h(3) })
      const loaded = await store.loadVotes()
      expect(loaded).toHaveLength(2)
      expect(norm(loaded.find((v) => toHex(v.creator) === toHex(k0.publicKey)))).toEqual(norm({ round: 3, creator: k0.publicKey, kind: 'echo', hash: h(2) }))
    })
  })
})

describe('VoteStore evidence', () => {
  it('round-trips equivocation evidence across reopen', async () => {
    const dir = await tempDir()
    const a = certifiedBlock({ members: keys, creator: 1, round: 6, createdAt: 1 })
    const b = certifiedBlock({ members: keys, creator: 1, round: 6, createdAt: 2 })
    const sign = (hash: Uint8Array): Uint8Array => k1.sign(proposalSigningBytes(6, k1.publicKey, hash))
    await withStore(dir, async (store) => {
      expect(await store.evidence()).toEqual([])
      await store.saveEvidence(6, k1.publicKey, a.hash, { header: a.block.header, signature: sign(a.hash) })
      await store.saveEvidence(6, k1.publicKey, b.hash, { header: b.block.header, signature: sign(b.hash) })
    })
    const evidence = await withStore(dir, async (store) => await store.evidence())
    expect(evidence).toHaveLength(2)
    for (const c of [a, b]) {
      const e = evidence.find((x) => x.hash === toHex(c.hash))
      expect(e).toBeDefined()
      if (e == null) continue
      expect(e.round).toBe(6)
      expect(e.creator).toBe(toHex(k1.publicKey))
      expect(norm(e.header)).toEqual(norm(c.block.header))
      // the stored header still hashes to the key it is filed under and its signature still verifies
      expect(toHex(blockHash(e.header))).toBe(e.hash)
      expect(verifySignature(k1.publicKey, proposalSigningBytes(e.round, k1.publicKey, blockHash(e.header)), e.signature)).toBe(true)
    }
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

  it('pendingOwnProposals survives reopen, in round order; clearOwnProposal removes one', async () => {
    const dir = await tempDir()
    const p2 = own(2, 1)
    const p10 = own(10, 2)
    const p3 = own(3, 3)
    await withStore(dir, async (store) => {
      await store.saveOwnProposal({ lastRound: 2, lastHeight: 1 }, p2)
      await store.saveOwnProposal({ lastRound: 10, lastHeight: 2 }, p10)
      await store.saveOwnProposal({ lastRound: 10, lastHeight: 3 }, p3)
    })
    await withStore(dir, async (store) => {
      const pending = await store.pendingOwnProposals()
      expect(pending.map((p) => p.block.header.round)).toEqual([2, 3, 10])
      expect(norm(pending[0])).toEqual(norm(p2))
      expect(norm(pending[2])).toEqual(norm(p10))
      await store.clearOwnProposal(3)
      await store.clearOwnProposal(99) // unknown: no-op
      // the producer state is not touched by clearing
      expect(await store.producerState()).toEqual({ lastRound: 10, lastHeight: 3 })
    })
    await withStore(dir, async (store) => {
      const pending = await store.pendingOwnProposals()
      expect(pending.map((p) => p.block.header.round)).toEqual([2, 10])
      await store.clearOwnProposal(2)
      await store.clearOwnProposal(10)
      expect(await store.pendingOwnProposals()).toEqual([])
    })
  })

  it('votes, evidence and producer records live in separate buckets', async () => {
    const dir = await tempDir()
    await withStore(dir, async (store) => {
      await store.saveVote({ round: 1, creator: k0.publicKey, kind: 'ready', hash: h(9) })
      await store.saveOwnProposal({ lastRound: 1, lastHeight: 1 }, own(1, 1))
      expect(await store.loadVotes()).toHaveLength(1)
      expect(await store.evidence()).toEqual([])
      expect(await store.pendingOwnProposals()).toHaveLength(1)
    })
  })
})
