import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/codec/bytes.js'
import type { RoundState } from '../../../src/contract/round.js'
import { LevelCoordinatorStore } from '../../../src/contract/store.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import { rowsHash } from '../../../src/epochs/chunks.js'
import { verifyRecord } from '../../../src/epochs/record.js'
import { chunkVerifiers, leaseHolder } from '../../../src/epochs/rotation.js'
import { Database } from '../../../src/storage/database.js'
import { ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'
import { clone, COMMITTEE, member, MemoryStore, PARAMETERS, refused } from './fixtures.js'
import { blockOf, contributeAll, endOf, ENV, GENESIS, genesisMemberOf, harness, roundOf, verifyAll } from './round-driver.js'

/**
 * The coordinator's round lifecycle on an injected clock: leases (tryLock) passing on, chunk
 * contributions, assigned verifiers, tryAdvance's commit, rollback, and failure at the
 * finalization deadline. 20 mixnodes in chunks of 5: four chunks; 4 members, 2 verifiers each.
 */

const SORTED = COMMITTEE.members.map((m) => m.publicKey).sort()
const memberOf = genesisMemberOf

describe('initialize', () => {
  it('stores round 0 (the genesis, its committee and parameters) once, and a restart reloads the open rounds as stored', async () => {
    const store = new MemoryStore()
    const h = await harness({ store })
    expect(store.genesis0).toEqual({ round: 0, genesisMs: GENESIS, committee: COMMITTEE, parameters: PARAMETERS, environment: 'testing' })
    h.clock.now = endOf(1) + 10
    const holder = leaseHolder(SORTED, 1, 2, 0, 0)
    await h.coordinator.tryLock(1, 2, memberOf(holder))
    const again = await harness({ store, now: h.clock.now })
    expect(store.genesis0?.genesisMs).toBe(GENESIS)
    expect(await roundOf(again, 1)).toEqual(await roundOf(h, 1))
    expect(again.coordinator.openRounds().map((r) => r.epoch)).toEqual([1])
  })
})

describe('tryLock', () => {
  it('opens an epoch\'s round at its end; the member the rotation names gets the lease, others are refused', async () => {
    const h = await harness()
    h.clock.now = endOf(1) - 1
    await refused(h.coordinator.tryLock(1, 0, member(0)), ErrorCode.EPOCH_NOT_READY)
    h.clock.now = endOf(1) + 100
    for (let index = 0; index < 4; index++) {
      const holder = leaseHolder(SORTED, 1, index, 0, 0)
      const other = SORTED.find((m) => m !== holder) as string
      await refused(h.coordinator.tryLock(1, index, memberOf(other)), ErrorCode.LEASE_HELD, /is leased to/)
      const grant = await h.coordinator.tryLock(1, index, memberOf(holder))
      // no block yet, so no clock runs: the lease lasts until the epoch's finalization deadline
      expect(grant.lease).toMatchObject({ holder, attempt: 0, lockedAt: endOf(1) + 100, deadline: endOf(1) + ENV.finalizationEpochs * ENV.epochMs })
      expect(grant.chunk).toEqual({ index, from: index * 5, to: index * 5 + 5 })
      // a reconnecting holder gets the same lease again
      expect((await h.coordinator.tryLock(1, index, memberOf(holder))).lease).toEqual(grant.lease)
    }
    await refused(h.coordinator.tryLock(1, 4, member(0)), ErrorCode.NOT_FOUND, /4 chunks/)
  })

  it('no lease expires and the attempt does not time out before its first contribution; that contribution starts every clock', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const opened = await roundOf(h, 1)
    const finalization = endOf(1) + ENV.finalizationEpochs * ENV.epochMs
    expect(opened.attemptDeadline).toBe(finalization)
    // the block is certified late: an attempt timeout and more pass, nothing expires
    while (h.clock.now < endOf(1) + ENV.attemptTimeoutMs + ENV.leaseTimeoutMs) {
      h.clock.now += 250
      await h.coordinator.update()
    }
    const waited = await roundOf(h, 1)
    expect(waited.attempt).toBe(0)
    expect(waited.chunks.map((c) => c.lease)).toEqual(opened.chunks.map((c) => c.lease))
    expect(h.events.filter((e) => e.epoch === 1).map((e) => e.kind)).toEqual([])
    for (const c of waited.chunks) expect(h.coordinator.committees.membership.missed(c.lease.holder)).toBe(0)
    // the first contribution: the attempt's deadline and every other lease's start now
    const b = blockOf(1)
    await contributeAll(h, 1, b, [2])
    const started = await roundOf(h, 1)
    expect(started.attemptDeadline).toBe(h.clock.now + ENV.attemptTimeoutMs)
    for (const c of started.chunks.filter((x) => x.index !== 2)) expect(c.lease.deadline).toBe(h.clock.now + ENV.leaseTimeoutMs)
    // and the epoch commits in attempt 0
    await contributeAll(h, 1, b, [0, 1, 3])
    expect(await verifyAll(h, 1, b)).toBe(true)
    expect((await h.store.record(1))?.attempt).toBe(0)
  })

  it('a holder that misses its lease deadline loses the chunk to the next member in the rotation', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const first = leaseHolder(SORTED, 1, 0, 0, 0)
    await h.coordinator.tryLock(1, 0, memberOf(first))
    // another chunk's contribution brings the block: the lease clocks run from now
    await contributeAll(h, 1, blockOf(1), [1])
    h.clock.now += ENV.leaseTimeoutMs + 1
    await h.coordinator.update()
    const next = leaseHolder(SORTED, 1, 0, 1, 0)
    expect(next).not.toBe(first)
    const round = await roundOf(h, 1)
    expect(round.chunks[0]?.lease).toMatchObject({ holder: next, attempt: 1 })
    expect(h.events.filter((e) => e.kind === 'lease-expired').map((e) => e.detail)).toContain(`chunk 0: ${first} locked it but did not contribute; offered to ${next}`)
    await refused(h.coordinator.tryLock(1, 0, memberOf(first)), ErrorCode.LEASE_HELD)
    const b = blockOf(1)
    await refused(h.coordinator.tryContribute(1, 0, memberOf(first), b.contribution(0, first, { withBlock: true })), ErrorCode.LEASE_HELD)
    await h.coordinator.tryLock(1, 0, memberOf(next))
    await h.coordinator.tryContribute(1, 0, memberOf(next), b.contribution(0, next))
  })
})

describe('tryContribute', () => {
  it('refuses a non-holder, a holder that did not lock, a first contribution without its block, other rows, and a bad signature', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    const holder = leaseHolder(SORTED, 1, 0, 0, 0)
    const other = SORTED.find((m) => m !== holder) as string
    await refused(h.coordinator.tryContribute(1, 0, memberOf(other), b.contribution(0, other, { withBlock: true })), ErrorCode.LEASE_HELD, /only the holder/)
    await refused(h.coordinator.tryContribute(1, 0, memberOf(holder), b.contribution(0, holder, { withBlock: true })), ErrorCode.LEASE_HELD, /after tryLock/)
    await h.coordinator.tryLock(1, 0, memberOf(holder))
    await refused(h.coordinator.tryContribute(1, 0, memberOf(holder), b.contribution(0, holder)), ErrorCode.SUBMISSION_INVALID, /must carry its certified block/)
    const forged = { ...b.contribution(0, holder, { withBlock: true }), signature: b.contribution(0, other).signature }
    await refused(h.coordinator.tryContribute(1, 0, memberOf(holder), forged), ErrorCode.SUBMISSION_INVALID, /signature/)
    // a block of the wrong epoch is refused by the same checks as a whole submission
    const wrong = blockOf(2)
    await refused(h.coordinator.tryContribute(1, 0, memberOf(holder), wrong.contribution(0, holder, { withBlock: true })), ErrorCode.SUBMISSION_INVALID, /refused/)
    expect((await roundOf(h, 1)).anchor).toBeUndefined()
    // none of these proves a lie about the block: nobody is banned
    expect(h.coordinator.committees.membership.bans).toEqual([])
    await h.coordinator.tryContribute(1, 0, memberOf(holder), b.contribution(0, holder, { withBlock: true }))
    await refused(h.coordinator.tryContribute(1, 0, memberOf(holder), b.contribution(0, holder)), ErrorCode.LEASE_HELD, /already contributed/)
    // signed rows that are not the block's chunk: refused, and a false statement that bans its signer
    const holder1 = leaseHolder(SORTED, 1, 1, 0, 0)
    await h.coordinator.tryLock(1, 1, memberOf(holder1))
    const rows = clone(b.sub.rewards.slice(5, 10))
    ;(rows[1] as { reward: string }).reward = '1'
    await refused(h.coordinator.tryContribute(1, 1, memberOf(holder1), b.contribution(1, holder1, { rows })), ErrorCode.SUBMISSION_INVALID, /rewards\[1\]\.reward/)
    expect(h.coordinator.committees.membership.ban(holder1)?.reason).toBe('invalid-contribution for chunk 1 of epoch 1')
  })

  it('the first contribution fixes the block: a chunk from a different certified block of the epoch is refused', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1, 0)
    const other = blockOf(1, 1)
    expect(other.sub.blockHash).not.toBe(b.sub.blockHash)
    await contributeAll(h, 1, b, [0])
    expect((await roundOf(h, 1)).anchor?.blockHash).toBe(b.sub.blockHash)
    const holder = leaseHolder(SORTED, 1, 1, 0, 0)
    await h.coordinator.tryLock(1, 1, memberOf(holder))
    await refused(h.coordinator.tryContribute(1, 1, memberOf(holder), other.contribution(1, holder, { withBlock: true })), ErrorCode.SUBMISSION_INVALID, /chunk from a different block/)
  })
})

describe('tryVerify and tryAdvance', () => {
  it('every chunk contributed once by its holder and verified by its assigned verifiers: the epoch commits, and the record verifies', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b)
    const round = await roundOf(h, 1)
    for (const chunk of round.chunks) expect(chunk.verifiers).toEqual(chunkVerifiers(SORTED, chunk.contribution?.contributor as string, 0, 2))
    // only an assigned verifier may verify
    const chunk0 = round.chunks[0] as RoundState['chunks'][number]
    const outsider = SORTED.find((m) => !chunk0.verifiers.includes(m)) as string
    await refused(h.coordinator.tryVerify(1, 0, memberOf(outsider), b.verification(0, outsider)), ErrorCode.FORBIDDEN, /not assigned/)
    expect(await h.coordinator.tryAdvance(1)).toBeUndefined()
    // verifications arrive in any order
    expect(await verifyAll(h, 1, b, { reverse: true })).toBe(true)
    const record = await h.store.record(1)
    expect(record?.submission.blockHash).toBe(b.sub.blockHash)
    expect(record?.submission.rewards).toEqual(b.sub.rewards)
    expect(record?.chunks?.map((c) => c.contributor)).toEqual(round.chunks.map((c) => c.lease.holder))
    expect(record?.attempt).toBe(0)
    for (const c of record?.chunks ?? []) expect(c.verifications.map((v) => v.verifier)).toEqual(round.chunks[c.index]?.verifiers)
    const report = verifyRecord(record!, verifySignature)
    expect(report.ok, report.failure).toBe(true)
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['chunks', 'chunk signatures']))
    expect(await h.store.round(1)).toBeUndefined()
    expect(h.coordinator.openRounds()).toEqual([])
    await refused(h.coordinator.tryLock(1, 0, member(0)), ErrorCode.EPOCH_DECIDED)
    expect(h.events.at(-1)).toMatchObject({ epoch: 1, kind: 'committed' })
  })

  it('a failed verification is kept with both sides; one that contradicts the block does not count, bans its verifier, and the replacement lets the epoch commit', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b)
    const round = await roundOf(h, 1)
    const chunk = round.chunks[2] as RoundState['chunks'][number]
    const liar = chunk.verifiers[0] as string
    const skewed = clone(b.sub.rewards.slice(10, 15))
    ;(skewed[0] as { reward: string }).reward = '7'
    await refused(h.coordinator.tryVerify(1, 2, memberOf(liar), b.verification(2, liar, skewed)), ErrorCode.BANNED, /contradicts/)
    const after = await roundOf(h, 1)
    expect(after.status).toBe('open')
    expect(after.chunks[2]?.verifications.find((v) => !v.ok)).toBeUndefined()
    expect(after.events.find((e) => e.kind === 'verification-failed')?.detail).toContain(`${liar} derived rows ${toHex(rowsHash(skewed))}, ${chunk.contribution?.contributor ?? ''} contributed ${chunk.contribution?.rowsHash ?? ''}`)
    expect(h.coordinator.committees.membership.ban(liar)?.reason).toBe('invalid-verification for chunk 2 of epoch 1')
    // everyone else verifies (the liar's requests are refused now); it is replaced at the chunk's deadline, and the epoch commits
    for (const c of after.chunks) {
      for (const v of c.verifiers.filter((x) => x !== liar)) await h.coordinator.tryVerify(1, c.index, memberOf(v), b.verification(c.index, v))
    }
    await refused(h.coordinator.tryVerify(1, 2, memberOf(liar), b.verification(2, liar)), ErrorCode.BANNED)
    expect(await h.coordinator.record(1)).toBeUndefined()
    h.clock.now += ENV.leaseTimeoutMs + 1
    await h.coordinator.update()
    const replaced = await roundOf(h, 1)
    expect(replaced.chunks[2]?.verifiers).not.toContain(liar)
    for (const c of replaced.chunks) {
      for (const v of c.verifiers.filter((x) => !c.verifications.some((y) => y.verifier === x))) await h.coordinator.tryVerify(1, c.index, memberOf(v), b.verification(c.index, v))
    }
    expect((await h.coordinator.record(1))?.epoch).toBe(1)
  })

  it('an assigned verifier that does not verify in time is replaced by the next member; the epoch still commits', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b)
    const round = await roundOf(h, 1)
    const silent = round.chunks[1]?.verifiers[1] as string
    for (const chunk of round.chunks) {
      for (const v of chunk.verifiers) if (v !== silent) await h.coordinator.tryVerify(1, chunk.index, memberOf(v), b.verification(chunk.index, v))
    }
    expect(await h.store.record(1)).toBeUndefined()
    h.clock.now += ENV.leaseTimeoutMs + 1
    await h.coordinator.update()
    const after = await roundOf(h, 1)
    for (const chunk of after.chunks) {
      expect(chunk.verifiers).not.toContain(silent)
      expect(chunk.verifiers).not.toContain(chunk.contribution?.contributor)
    }
    expect(h.events.filter((e) => e.kind === 'verifier-expired').map((e) => e.detail).join('\n')).toContain(`${silent} did not verify; assigned to`)
    await refused(h.coordinator.tryVerify(1, 1, memberOf(silent), b.verification(1, silent)), ErrorCode.FORBIDDEN)
    for (const chunk of after.chunks) {
      for (const v of chunk.verifiers) if (!chunk.verifications.some((x) => x.verifier === v)) await h.coordinator.tryVerify(1, chunk.index, memberOf(v), b.verification(chunk.index, v))
    }
    const record = await h.store.record(1)
    expect(record?.verifiersPerChunk).toBe(2)
    expect(verifyRecord(record!, verifySignature).ok).toBe(true)
  })

  it('a committed record fails verification, naming the chunk, when a chunk, a signature or a verification is changed', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b)
    await verifyAll(h, 1, b)
    const record = (await h.store.record(1))!
    const failure = (edit: (r: typeof record) => void): string | undefined => {
      const r = clone(record)
      edit(r)
      return verifyRecord(r, verifySignature).failure
    }
    const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1)
    expect(failure((r) => { r.chunks![2]!.rowsHash = flip(r.chunks![2]!.rowsHash) })).toMatch(/^chunk signatures: chunk 2: rowsHash .* is not the hash of rows 10–14/)
    expect(failure((r) => { r.chunks![1]!.signature = flip(r.chunks![1]!.signature) })).toBe('chunk signatures: chunk 1: the contributor\'s signature does not verify')
    expect(failure((r) => { r.chunks![3]!.verifications[0]!.signature = flip(r.chunks![3]!.verifications[0]!.signature) })).toMatch(/^chunk signatures: chunk 3: the signature of verifier \w+ does not verify$/)
    expect(failure((r) => { r.chunks![0]!.verifications.pop() })).toBe('chunk signatures: chunk 0: 1 distinct verifiers, 2 needed')
    expect(failure((r) => { r.chunks![0]!.verifications[0]!.verifier = r.chunks![0]!.contributor })).toMatch(/chunk 0: verifier \w+ is its contributor/)
    expect(failure((r) => { r.chunks![1]!.to = 9 })).toBe('chunks: chunk 2 covers [10, 15), expected index 2 from 9')
    // a changed row changes the table: the reports no longer give it
    expect(failure((r) => { r.submission.rewards[3]!.reward = '5' })).toMatch(/^rewards: rewards\[3\]\.reward is "5"/)
  })

  it('a verification whose ok flag contradicts its hashes, or with a bad signature, is refused', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b)
    const v = (await roundOf(h, 1)).chunks[0]?.verifiers[0] as string
    await refused(h.coordinator.tryVerify(1, 0, memberOf(v), { ...b.verification(0, v), ok: false }), ErrorCode.BAD_REQUEST, /ok = false/)
    const other = SORTED.find((m) => m !== v) as string
    await refused(h.coordinator.tryVerify(1, 0, memberOf(v), { ...b.verification(0, v), signature: b.verification(0, other).signature }), ErrorCode.SUBMISSION_INVALID, /signature/)
  })
})

describe('several chunks in one request', () => {
  it('locks, contributes and verifies in batches: a result per chunk, refusals included, and the last verification commits', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const b = blockOf(1)
    const holder = leaseHolder(SORTED, 1, 0, 0, 0)
    const locks = await h.coordinator.tryLockMany(1, [0, 1, 2, 3], memberOf(holder))
    expect(locks.map((r) => r.ok)).toEqual([0, 1, 2, 3].map((c) => leaseHolder(SORTED, 1, c, 0, 0) === holder))
    expect(locks.find((r) => !r.ok)).toMatchObject({ ok: false, code: ErrorCode.LEASE_HELD })
    // every member uploads what it holds in one request; the first carries the block
    for (const m of SORTED) {
      const mine = [0, 1, 2, 3].filter((c) => leaseHolder(SORTED, 1, c, 0, 0) === m)
      if (mine.length === 0) continue
      await h.coordinator.tryLockMany(1, mine, memberOf(m))
      const anchored = (await roundOf(h, 1)).anchor != null
      const results = await h.coordinator.tryContributeMany(1, memberOf(m), {
        blockHash: b.sub.blockHash as string,
        ...(anchored ? {} : { block: b.contribution(0, m, { withBlock: true }).block }),
        chunks: mine.map((c) => ({ chunk: c, rows: b.contribution(c, m).rows, signature: b.contribution(c, m).signature }))
      })
      expect(results.every((r) => r.ok)).toBe(true)
    }
    const round = await roundOf(h, 1)
    let committed = false
    for (const v of SORTED) {
      const owed = round.chunks.filter((c) => c.verifiers.includes(v)).map((c) => ({ ...b.verification(c.index, v), chunk: c.index }))
      if (owed.length === 0) continue
      const bad = { ...owed[0]!, signature: owed[0]!.signature.replace(/^./, (d) => d === '0' ? '1' : '0') }
      const res = await h.coordinator.tryVerifyMany(1, memberOf(v), [bad, ...owed])
      expect(res.results[0]).toMatchObject({ ok: false, code: ErrorCode.SUBMISSION_INVALID })
      expect(res.results.slice(1).every((r) => r.ok)).toBe(true)
      committed = res.committed
    }
    expect(committed).toBe(true)
    expect(verifyRecord((await h.store.record(1))!, verifySignature).ok).toBe(true)
  })
})

/** A store whose round writes wait until released (while `held`), in the order they were made. */
class HeldStore extends MemoryStore {
  held = false
  readonly waiting: Array<() => void> = []

  override async saveRound (round: RoundState): Promise<void> {
    const json = JSON.stringify(round)
    if (this.held) await new Promise<void>((resolve) => { this.waiting.push(resolve) })
    this.rounds.set(round.epoch, json)
  }

  release (): void {
    this.held = false
    for (const resolve of this.waiting.splice(0)) resolve()
  }
}

describe('writes and answers', () => {
  it('the queue goes on while a round write is on its way; each answer waits for its own write', async () => {
    const store = new HeldStore()
    const h = await harness({ store })
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const holders = [0, 1].map((c) => leaseHolder(SORTED, 1, c, 0, 0))
    store.held = true
    let answered = 0
    const locks = holders.map(async (m, c) => { await h.coordinator.tryLock(1, c, memberOf(m)); answered++ })
    // both transitions are made (the second did not wait for the first one's write) ...
    await waitUntil(() => store.waiting.length === 2)
    const round = h.coordinator.openRounds().find((r) => r.epoch === 1) as RoundState
    expect(round.chunks.slice(0, 2).map((c) => c.lease.lockedAt)).toEqual([h.clock.now, h.clock.now])
    // ... and neither is answered before its write is done
    await new Promise((resolve) => setImmediate(resolve))
    expect(answered).toBe(0)
    store.release()
    await Promise.all(locks)
    expect(answered).toBe(2)
    expect((JSON.parse(store.rounds.get(1) as string) as RoundState).chunks.slice(0, 2).map((c) => c.lease.lockedAt)).toEqual([h.clock.now, h.clock.now])
  })
})

/** Yields to the event loop until `check` holds (a bounded number of turns). */
async function waitUntil (check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((resolve) => setImmediate(resolve))
  expect(check()).toBe(true)
}

describe('contributing with lock', () => {
  it('acquires each lease offered to the contributor in the same step, stored with the contribution; a chunk offered to another member is refused and stays unlocked', async () => {
    const store = new MemoryStore()
    const h = await harness({ store })
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const b = blockOf(1)
    const holder = leaseHolder(SORTED, 1, 0, 0, 0)
    const mine = [0, 1, 2, 3].filter((c) => leaseHolder(SORTED, 1, c, 0, 0) === holder)
    const other = [0, 1, 2, 3].find((c) => !mine.includes(c)) as number
    const results = await h.coordinator.tryContributeMany(1, memberOf(holder), {
      blockHash: b.sub.blockHash as string,
      block: b.contribution(0, holder, { withBlock: true }).block,
      lock: true,
      chunks: [...mine, other].map((c) => ({ chunk: c, rows: b.contribution(c, holder).rows, signature: b.contribution(c, holder).signature }))
    })
    expect(results.map((r) => r.ok)).toEqual([...mine.map(() => true), false])
    expect(results.at(-1)).toMatchObject({ ok: false, code: ErrorCode.LEASE_HELD })
    // what a restart reloads: the leases locked at the contribution's time, the other one untouched
    const reloaded = await harness({ store, now: h.clock.now })
    const round = await roundOf(reloaded, 1)
    for (const c of mine) expect(round.chunks[c]).toMatchObject({ lease: { holder, lockedAt: h.clock.now }, contribution: { contributor: holder } })
    expect(round.chunks[other]?.lease.lockedAt).toBeUndefined()
    expect(round.chunks[other]?.contribution).toBeUndefined()
  })

  it('a refused contribution still leaves its lease acquired (as a lock then a refused contribution would), and stored', async () => {
    const store = new MemoryStore()
    const h = await harness({ store })
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    const holder = leaseHolder(SORTED, 1, 0, 0, 0)
    // no block with the round's first contribution: refused after the lease is acquired
    const results = await h.coordinator.tryContributeMany(1, memberOf(holder), { blockHash: b.sub.blockHash as string, lock: true, chunks: [{ chunk: 0, rows: b.contribution(0, holder).rows, signature: b.contribution(0, holder).signature }] })
    expect(results[0]).toMatchObject({ ok: false, code: ErrorCode.SUBMISSION_INVALID })
    const reloaded = await harness({ store, now: h.clock.now })
    expect((await roundOf(reloaded, 1)).chunks[0]?.lease).toMatchObject({ holder, lockedAt: h.clock.now })
  })
})

describe('rollback and finalization', () => {
  it('a chunk that never arrives rolls the attempt back (contributions, block and leases cleared, holders rotated); the retry commits', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1)
    await contributeAll(h, 1, b, [0, 1, 2])
    const before = await roundOf(h, 1)
    h.clock.now = before.attemptDeadline + 1
    await h.coordinator.update()
    const rolled = await roundOf(h, 1)
    // the next attempt's clocks start with its first contribution
    expect(rolled).toMatchObject({ status: 'open', attempt: 1, attemptStartedAt: h.clock.now, attemptDeadline: rolled.finalizationDeadline })
    expect(rolled.anchor).toBeUndefined()
    for (const chunk of rolled.chunks) {
      expect(chunk.contribution).toBeUndefined()
      expect(chunk.verifications).toEqual([])
      expect(chunk.lease).toMatchObject({ holder: leaseHolder(SORTED, 1, chunk.index, 0, 1), attempt: 0 })
    }
    expect(h.events.find((e) => e.kind === 'rollback')?.detail).toBe('attempt 0 timed out: chunk 3 never contributed; chunks 0, 1, 2 not verified')
    // the retry: everything again, by the rotated holders and verifiers
    await contributeAll(h, 1, b)
    expect((await roundOf(h, 1)).chunks[0]?.verifiers).toEqual(chunkVerifiers(SORTED, leaseHolder(SORTED, 1, 0, 0, 1), 1, 2))
    expect(await verifyAll(h, 1, b)).toBe(true)
    const record = await h.store.record(1)
    expect(record?.attempt).toBe(1)
    expect(verifyRecord(record!, verifySignature).ok).toBe(true)
  })

  it('an epoch not committed by its finalization deadline is marked failed with the reason, visible to everyone', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const deadline = (await roundOf(h, 1)).finalizationDeadline
    expect(deadline).toBe(endOf(1) + ENV.finalizationEpochs * ENV.epochMs)
    // time passes: leases pass on, attempts roll back, nobody contributes
    while (h.clock.now <= deadline) {
      h.clock.now += 500
      await h.coordinator.update()
    }
    const failed = await h.store.round(1)
    expect(failed?.status).toBe('failed')
    expect(failed?.failure).toMatch(/^not committed by the finalization deadline .* after \d+ attempt\(s\): chunks 0, 1, 2, 3 never contributed$/)
    expect(h.events.some((e) => e.kind === 'failed' && e.epoch === 1)).toBe(true)
    await refused(h.coordinator.tryLock(1, 0, member(0)), ErrorCode.EPOCH_FAILED, /finalization deadline/)
    // an epoch whose window passed without a round is refused too, and never opened
    await refused(h.coordinator.tryLock(1, 0, member(0)), ErrorCode.EPOCH_FAILED)
    expect(h.coordinator.openRounds().every((r) => r.epoch > 1)).toBe(true)
  })

  it('rounds stay bounded: only epochs inside their finalization window are open', async () => {
    const h = await harness()
    for (let e = 1; e <= 30; e++) {
      h.clock.now = endOf(e) + 10
      await h.coordinator.update()
      h.clock.now = endOf(e) + 1_500
      await h.coordinator.update()
    }
    expect(h.coordinator.openRounds().length).toBeLessThanOrEqual(ENV.finalizationEpochs + 1)
    expect((await h.store.openRounds()).length).toBeLessThanOrEqual(ENV.finalizationEpochs + 1)
  })
})

describe('a crash in the middle of tryAdvance', () => {
  for (const point of ['advance', 'commit'] as const) {
    it(`killed at "${point}" (${point === 'advance' ? 'prepared, before the commit batch' : 'after it'}): the restart ends in exactly one of commit or an open round, never half of each, and then commits`, async () => {
      const dir = await tempDir()
      let db = await Database.open(dir)
      const h = await harness({ store: new LevelCoordinatorStore(db), crash: (p) => { if (p === point) throw new Error(`killed at ${p}`) } })
      h.clock.now = endOf(1) + 10
      const b = blockOf(1)
      await contributeAll(h, 1, b)
      await expect(verifyAll(h, 1, b)).rejects.toThrow(`killed at ${point}`)
      await db.close()

      db = await Database.open(dir)
      const store = new LevelCoordinatorStore(db)
      const record = await store.record(1)
      const round = await store.round(1)
      // exactly one of the two
      expect(record == null).toBe(round != null)
      if (point === 'advance') {
        expect(round?.status).toBe('open')
        expect(round?.chunks.every((c) => c.contribution != null && c.contribution.rows.length === 5)).toBe(true)
      }
      const restarted = await harness({ store, now: h.clock.now + 100 })
      await restarted.coordinator.update()
      const committed = await store.record(1)
      expect(committed?.submission.blockHash).toBe(b.sub.blockHash)
      expect(verifyRecord(committed!, verifySignature).ok).toBe(true)
      expect(await store.round(1)).toBeUndefined()
      await db.close()
    })
  }
})
