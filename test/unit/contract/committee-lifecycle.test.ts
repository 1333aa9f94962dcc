import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/codec/bytes.js'
import type { MembershipRules } from '../../../src/contract/membership.js'
import { LevelCoordinatorStore } from '../../../src/contract/store.js'
import { ValidatorRequests } from '../../../src/contract/validator-requests.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import { committeeChainChecks } from '../../../src/epochs/committee-chain.js'
import { evidenceHash, reportEvidence } from '../../../src/epochs/evidence.js'
import { checkRoundEvidence, type RoundEvidenceJson } from '../../../src/epochs/round-evidence.js'
import type { CommitteeMemberJson, EpochRecordJson, ParametersJson } from '../../../src/epochs/record.js'
import { Database } from '../../../src/storage/database.js'
import { ErrorCode } from '../../../src/util/errors.js'
import { signRequest } from '../../../src/epochs/auth.js'
import { proposalSigningBytes, readySigningBytes } from '../../../src/block/encoding.js'
import { key } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'
import { COMMITTEE, KEYS, memberReport, MemoryStore, PARAMETERS, refused } from './fixtures.js'
import { blockOf, contributeAll, endOf, harness, memberAt, registerKeys, roundOf, verifyAll, type Harness } from './round-driver.js'

/**
 * The living committee through the coordinator, on an injected clock: admission from the queue at
 * an epoch boundary, a rollback returning the staged admissions, drops, bans on evidence, the
 * manual lock, and a crash in the middle of an advance that carries a committee change.
 */

const NEWCOMER: NodeKey = key(0x51)
registerKeys([NEWCOMER])
const FIVE = [...KEYS, NEWCOMER]
const newcomer: CommitteeMemberJson = { name: 'node5', peerId: NEWCOMER.peerId.toString(), publicKey: toHex(NEWCOMER.publicKey), multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] }
const pk = (i: number): string => toHex((KEYS[i] as NodeKey).publicKey)
const genesisMember = (i: number): CommitteeMemberJson => COMMITTEE.members[i] as CommitteeMemberJson

/** The threshold follows the committee: q = n − f. */
const parametersFor = (size: number): ParametersJson => ({ ...PARAMETERS, rewardsThreshold: size - Math.floor((size - 1) / 3) })
const RULES: MembershipRules = { minCommittee: 3, maxCommittee: 6, dropAfterMissed: 2, banAfterDrops: 3, admission: { mode: 'open', allowlist: [], maxQueue: 8 }, maxBans: 100, maxDropRecords: 100 }

async function living (opts: { store?: LevelCoordinatorStore, crash?: (point: string) => void, now?: number, rules?: Partial<MembershipRules> } = {}): Promise<Harness & { requests: ValidatorRequests }> {
  const h = await harness({ ...opts, membership: { ...RULES, ...opts.rules }, parametersFor })
  return { ...h, requests: new ValidatorRequests(h.coordinator, verifySignature) }
}

/**
 * Commits an epoch with a block of `keys` (reports from `reporters`, indexes into keys). Banned
 * members take no part: their leases expire and pass on, their verifications are replaced.
 */
async function commit (h: Harness, epoch: number, opts: { keys?: NodeKey[], reporters?: number[] } = {}): Promise<EpochRecordJson> {
  h.clock.now = Math.max(h.clock.now, endOf(epoch) + 10)
  const keys = opts.keys ?? KEYS
  const b = blockOf(epoch, 0, { keys, parameters: parametersFor(keys.length), ...(opts.reporters != null ? { reporters: opts.reporters } : {}) })
  const banned = (key: string): boolean => h.coordinator.committees.membership.ban(key) != null
  const passOn = async (): Promise<void> => {
    h.clock.now += 1_001
    await h.coordinator.update()
  }
  if (h.coordinator.committees.membership.bans.length === 0) {
    await contributeAll(h, epoch, b)
    expect(await verifyAll(h, epoch, b)).toBe(true)
    return await h.coordinator.record(epoch) as EpochRecordJson
  }
  await h.coordinator.update()
  for (let index = 0; index < 4; index++) {
    while (banned((await roundOf(h, epoch)).chunks[index]?.lease.holder as string)) await passOn()
    const round = await roundOf(h, epoch)
    const holder = round.chunks[index]?.lease.holder as string
    await h.coordinator.tryLock(epoch, index, memberAt(h, epoch, holder))
    await h.coordinator.tryContribute(epoch, index, memberAt(h, epoch, holder), b.contribution(index, holder, { withBlock: round.anchor == null }))
  }
  while (await h.coordinator.record(epoch) == null) {
    for (const c of (await roundOf(h, epoch)).chunks) {
      for (const v of c.verifiers.filter((x) => !banned(x) && !c.verifications.some((y) => y.verifier === x))) await h.coordinator.tryVerify(epoch, c.index, memberAt(h, epoch, v), b.verification(c.index, v))
    }
    if (await h.coordinator.record(epoch) == null) await passOn()
  }
  return await h.coordinator.record(epoch) as EpochRecordJson
}

/** Locks chunk 0 of an open round by its lease holder: the holder's key and committee entry. */
async function lockFirstChunk (h: Harness, epoch: number): Promise<{ holder: string, entry: CommitteeMemberJson }> {
  const holder = (await h.coordinator.round(epoch))?.chunks[0]?.lease.holder as string
  const entry = h.coordinator.committees.at(epoch).members.get(holder) as CommitteeMemberJson
  await h.coordinator.tryLock(epoch, 0, entry)
  return { holder, entry }
}

describe('admission from the queue', () => {
  it('stages a queued validator, commits the change with the next record, in force two epochs on; blocks of that epoch need the new committee', async () => {
    const h = await living()
    h.clock.now = endOf(1) + 10
    expect(await h.requests.addToQueue(newcomer, { name: 'node5', multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] })).toEqual({ status: 'queued', position: 1 })
    await h.coordinator.update()
    expect(h.coordinator.committees.membership.next.map((q) => q.member.name)).toEqual(['node5'])
    const r1 = await commit(h, 1)
    // decided while epoch 2 runs: in force from epoch 4, so every node knows it a whole epoch ahead
    expect(r1.committeeChange).toMatchObject({ effectiveEpoch: 4, decidedAt: 1, previousMembershipId: COMMITTEE.membershipId })
    expect(r1.committeeChange?.decisions).toEqual([{ kind: 'admitted', member: newcomer, reason: 'admitted from the queue' }])
    expect(h.coordinator.committees.at(3).committee.membershipId).toBe(COMMITTEE.membershipId)
    expect(h.coordinator.committees.at(4).committee.members.map((m) => m.publicKey)).toContain(newcomer.publicKey)
    const r3 = await commit(h, 3)
    expect(r3.committee.membershipId).toBe(COMMITTEE.membershipId)
    // epoch 4: a block certified by the genesis committee is refused, one by the five is taken
    h.clock.now = endOf(4) + 10
    await h.coordinator.update()
    const old = blockOf(4, 0, { parameters: parametersFor(5) })
    const { holder, entry: holderEntry } = await lockFirstChunk(h, 4)
    await refused(h.coordinator.tryContribute(4, 0, holderEntry, old.contribution(0, holder, { withBlock: true })), ErrorCode.SUBMISSION_INVALID, /committee|membership/)
    const r4 = await commit(h, 4, { keys: FIVE })
    expect(r4.committee.members).toHaveLength(5)
    expect(r4.parameters.rewardsThreshold).toBe(4)
    expect(r4.submission.reports.map((r) => r.message.publicKey)).toContain(newcomer.publicKey)
    // anyone re-derives every committee from genesis and the records
    expect(committeeChainChecks(COMMITTEE, [r1, r3, r4]).every((c) => c.ok)).toBe(true)
    const forged = { ...r4, committee: COMMITTEE }
    expect(committeeChainChecks(COMMITTEE, [r1, r3, forged]).find((c) => !c.ok)?.detail).toMatch(/names committee/)
    expect(committeeChainChecks(COMMITTEE, [r3, r4]).find((c) => !c.ok)?.name).toBe('committee of epoch 4')
  })

  it('a rollback returns the staged admissions to the queue (the next tick stages them again); only a commit admits them', async () => {
    const h = await living()
    h.clock.now = endOf(1) + 10
    await h.requests.addToQueue(newcomer, { name: 'node5', multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] })
    await h.coordinator.update()
    expect(h.membershipEvents.map((e) => e.kind)).toEqual(['queued', 'staged'])
    // one chunk arrives (the attempt's clocks start), the others never: the attempt times out and rolls back
    await contributeAll(h, 1, blockOf(1, 0, { keys: KEYS, parameters: parametersFor(KEYS.length) }), [0])
    h.clock.now = endOf(1) + 10 + 3_500
    await h.coordinator.update()
    expect(h.events.some((e) => e.epoch === 1 && e.kind === 'rollback')).toBe(true)
    expect(h.membershipEvents.map((e) => e.kind)).toEqual(['queued', 'staged', 'returned-to-queue', 'staged'])
    expect(h.coordinator.committees.membership.changes).toEqual([])
    const r1 = await commit(h, 1)
    expect(r1.committeeChange?.decisions.map((d) => d.member.name)).toEqual(['node5'])
  })
})

describe('drops', () => {
  it('drops a member that missed k consecutive epochs (no report in the record) from a later committee; the chain still follows', async () => {
    const h = await living()
    const r1 = await commit(h, 1, { reporters: [0, 1, 2] })
    expect(h.coordinator.committees.membership.missed(pk(3))).toBe(1)
    const r2 = await commit(h, 2, { reporters: [0, 1, 2] })
    await h.coordinator.update()
    expect(h.coordinator.committees.membership.removals.map((d) => `${d.kind} ${d.member.name}`)).toEqual(['dropped node4'])
    const r3 = await commit(h, 3)
    expect(r3.committeeChange?.decisions).toEqual([{ kind: 'dropped', member: genesisMember(3), reason: 'missed 2 consecutive epochs' }])
    expect(h.coordinator.committees.at(r3.committeeChange?.effectiveEpoch as number).committee.members).toHaveLength(3)
    expect(committeeChainChecks(COMMITTEE, [r1, r2, r3]).every((c) => c.ok)).toBe(true)
  })

  it('a lease let expire counts as a missed epoch; one offered before anyone could contribute does not', async () => {
    const h = await living()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const holder = (await h.coordinator.round(1))?.chunks[0]?.lease.holder as string
    // no block anywhere yet: nobody is blamed however long that takes
    h.clock.now += 2_500
    await h.coordinator.update()
    expect(h.coordinator.committees.membership.missed(holder)).toBe(0)
    // another chunk's contribution brings the block; the holder then lets its lease expire
    await contributeAll(h, 1, blockOf(1, 0, { keys: KEYS, parameters: parametersFor(KEYS.length) }), [1])
    h.clock.now += 1_100
    await h.coordinator.update()
    expect(h.coordinator.committees.membership.missed(holder)).toBe(1)
  })
})

describe('bans on evidence', () => {
  const twin = (): ReturnType<typeof reportEvidence> => reportEvidence(memberReport(2, 1), memberReport(2, 1, { values: new Uint16Array(20).fill(7) }))

  it('bans the signer of two conflicting reports at once (its requests refused), takes it out at the next change even below the minimum, and keeps the evidence readable', async () => {
    const h = await living({ rules: { minCommittee: 4 } })
    h.clock.now = endOf(2) + 10
    const evidence = twin()
    const { ban } = await h.requests.evidence(genesisMember(0), evidence)
    expect(ban).toMatchObject({ by: 'evidence', evidenceHash: evidenceHash(evidence), member: genesisMember(1) })
    expect((await h.coordinator.committees.evidence(evidenceHash(evidence)))?.evidence).toEqual(evidence)
    const headers = signRequest((KEYS[1] as NodeKey).publicKey, (b) => (KEYS[1] as NodeKey).sign(b), 'POST', '/contract/queue', new Uint8Array(), h.clock.now)
    await refused(Promise.resolve().then(() => { h.coordinator.precheck(headers, '/contract/queue') }), ErrorCode.BANNED, /report-equivocation/)
    await refused(h.requests.evidence(genesisMember(0), evidence), ErrorCode.ALREADY_EXISTS)
    const r2 = await commit(h, 2)
    expect(r2.committeeChange?.decisions).toEqual([expect.objectContaining({ kind: 'banned', member: genesisMember(1), evidenceHash: evidenceHash(evidence) })])
    expect(r2.committeeChange?.committee.members.map((m) => m.name)).toEqual(expect.not.arrayContaining(['node2']))
  })

  for (const kind of ['proposal-equivocation', 'ready-equivocation'] as const) {
    it(`bans on ${kind} (two signed votes of one slot)`, async () => {
      const h = await living()
      h.clock.now = endOf(3) + 10
      const signer = kind === 'proposal-equivocation' ? 0 : 2
      const k = KEYS[signer] as NodeKey
      const creator = KEYS[0] as NodeKey
      const vote = (fill: number): { round: number, creator: string, hash: string, signer: string, signature: string } => {
        const hash = new Uint8Array(32).fill(fill)
        const bytes = kind === 'proposal-equivocation' ? proposalSigningBytes(3, creator.publicKey, hash) : readySigningBytes(3, creator.publicKey, hash)
        return { round: 3, creator: toHex(creator.publicKey), hash: toHex(hash), signer: toHex(k.publicKey), signature: toHex(k.sign(bytes)) }
      }
      const { ban } = await h.requests.evidence(genesisMember(1), { kind, a: vote(1), b: vote(2) })
      expect(ban.member.publicKey).toBe(pk(signer))
      expect(h.coordinator.committees.membership.removals.map((d) => d.member.publicKey)).toEqual([pk(signer)])
    })
  }

  it('refuses forged, non-conflicting and outsiders\' evidence', async () => {
    const h = await living()
    h.clock.now = endOf(2) + 10
    const a = memberReport(2, 1)
    await refused(h.requests.evidence(genesisMember(0), reportEvidence(a, memberReport(2, 1, { timestamp: 5 }))), ErrorCode.EVIDENCE_INVALID)
    const forged = twin() as { kind: 'report-equivocation', a: { signature: string }, b: unknown }
    forged.a.signature = forged.a.signature.replace(/^./, (c) => (c === '0' ? '1' : '0'))
    await refused(h.requests.evidence(genesisMember(0), forged), ErrorCode.EVIDENCE_INVALID)
    const outsider = key(0x77)
    const mine = (values: number): ReturnType<typeof memberReport> => memberReport(2, 0, { keys: [outsider], values: new Uint16Array(20).fill(values) })
    await refused(h.requests.evidence(genesisMember(0), reportEvidence(mine(1), mine(2))), ErrorCode.EVIDENCE_INVALID, /not in the committee/)
    expect(h.coordinator.committees.membership.bans).toEqual([])
  })
})

describe('bans on false chunk statements', () => {
  it('a signed contribution whose rows are not the block\'s chunk is refused and bans its signer, with the evidence kept', async () => {
    const h = await living()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const b = blockOf(1, 0, { parameters: parametersFor(4) })
    const { holder, entry } = await lockFirstChunk(h, 1)
    const rows = b.sub.rewards.slice(0, 5).map((r, i) => (i === 0 ? { ...r, reward: '1' } : r))
    await refused(h.coordinator.tryContribute(1, 0, entry, b.contribution(0, holder, { withBlock: true, rows })), ErrorCode.SUBMISSION_INVALID)
    const ban = h.coordinator.committees.membership.ban(holder)
    expect(ban).toMatchObject({ by: 'evidence', reason: 'invalid-contribution for chunk 0 of epoch 1' })
    const stored = await h.coordinator.committees.evidence(ban?.evidenceHash as string)
    const committee = h.coordinator.committees.at(1).committee
    expect(checkRoundEvidence(stored?.evidence as RoundEvidenceJson, committee, verifySignature)).toMatchObject({ ok: true, offender: holder })
    // an honest mistake that proves nothing (a bad signature) bans nobody
    const other = (await h.coordinator.round(1))?.chunks[1]?.lease.holder as string
    const otherEntry = h.coordinator.committees.at(1).members.get(other) as CommitteeMemberJson
    if (other !== holder) {
      await h.coordinator.tryLock(1, 1, otherEntry)
      const body = b.contribution(1, other, { withBlock: true })
      await refused(h.coordinator.tryContribute(1, 1, otherEntry, { ...body, signature: '00'.repeat(64) }), ErrorCode.SUBMISSION_INVALID)
      expect(h.coordinator.committees.membership.ban(other)).toBeUndefined()
    }
  })

  it('a signed verification that contradicts the block is refused and bans the verifier; an honest one counts', async () => {
    const h = await living()
    h.clock.now = endOf(1) + 10
    const b = blockOf(1, 0, { parameters: parametersFor(4) })
    await contributeAll(h, 1, b)
    const chunk = (await h.coordinator.round(1))?.chunks[0]
    const [liar, honest] = chunk?.verifiers as [string, string]
    const wrong = b.sub.rewards.slice(0, 5).map((r, i) => (i === 0 ? { ...r, reward: '1' } : r))
    await refused(h.coordinator.tryVerify(1, 0, h.coordinator.committees.at(1).members.get(liar) as CommitteeMemberJson, b.verification(0, liar, wrong)), ErrorCode.BANNED, /contradicts/)
    expect(h.coordinator.committees.membership.ban(liar)).toMatchObject({ reason: 'invalid-verification for chunk 0 of epoch 1' })
    await h.coordinator.tryVerify(1, 0, h.coordinator.committees.at(1).members.get(honest) as CommitteeMemberJson, b.verification(0, honest))
    expect((await h.coordinator.round(1))?.chunks[0]?.verifications.map((v) => v.verifier)).toEqual([honest])
  })
})

describe('operator controls', () => {
  it('the manual lock keeps a complete round from advancing until it is lifted', async () => {
    const h = await living()
    await h.requests.lock(true)
    h.clock.now = endOf(1) + 10
    const b = blockOf(1, 0, { parameters: parametersFor(4) })
    await contributeAll(h, 1, b)
    expect(await verifyAll(h, 1, b)).toBe(false)
    await h.coordinator.update()
    expect(await h.coordinator.record(1)).toBeUndefined()
    await h.requests.lock(false)
    await h.coordinator.update()
    expect((await h.coordinator.record(1))?.epoch).toBe(1)
  })

  it('ban and unban by the operator', async () => {
    const h = await living()
    await h.requests.ban(pk(2), 'operator decision')
    expect(h.coordinator.committees.membership.ban(pk(2))).toMatchObject({ by: 'admin', reason: 'operator decision' })
    await h.requests.unban(pk(2))
    expect(h.coordinator.committees.membership.removals).toEqual([])
    await refused(h.requests.unban(pk(2)), ErrorCode.NOT_FOUND)
  })
})

describe('a crash in the middle of an advance that carries a committee change', () => {
  for (const point of ['advance', 'commit']) {
    it(`killed at "${point}": the restart holds the record and the change together, or neither, then commits the change once`, async () => {
      const dir = await tempDir()
      const db = await Database.open(dir)
      const h = await living({ store: new LevelCoordinatorStore(db), crash: (p) => { if (p === point) throw new Error(`killed at ${p}`) } })
      h.clock.now = endOf(1) + 10
      await h.requests.addToQueue(newcomer, { name: 'node5', multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] })
      const b = blockOf(1, 0, { parameters: parametersFor(4) })
      await contributeAll(h, 1, b)
      await expect(verifyAll(h, 1, b)).rejects.toThrow(`killed at ${point}`)
      await h.coordinator.stop()
      await db.close()
      const db2 = await Database.open(dir)
      const again = await living({ store: new LevelCoordinatorStore(db2), now: h.clock.now })
      const record = await again.coordinator.record(1)
      const changes = again.coordinator.committees.membership.changes
      if (point === 'advance') {
        expect(record).toBeUndefined()
        expect(changes).toEqual([])
        expect([...again.coordinator.committees.membership.queue, ...again.coordinator.committees.membership.next].map((q) => q.member.name)).toEqual(['node5'])
        await again.coordinator.update()
        expect((await again.coordinator.record(1))?.committeeChange?.decisions.map((d) => d.member.name)).toEqual(['node5'])
      } else {
        expect(record?.committeeChange?.effectiveEpoch).toBe(changes[0]?.effectiveEpoch)
        expect(again.coordinator.committees.membership.next).toEqual([])
      }
      expect(again.coordinator.committees.membership.changes).toHaveLength(1)
      await db2.close()
    })
  }
})

describe('a crash in the middle of update()', () => {
  it('killed while update() advances a round that commits a change: the restart has the staged admission and no record, then commits both once', async () => {
    const dir = await tempDir()
    const db = await Database.open(dir)
    let armed = false
    const h = await living({ store: new LevelCoordinatorStore(db), crash: (p) => { if (armed && p === 'advance') throw new Error('killed at advance') } })
    h.clock.now = endOf(1) + 10
    await h.requests.addToQueue(newcomer, { name: 'node5', multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] })
    await h.requests.lock(true)
    const b = blockOf(1, 0, { parameters: parametersFor(4) })
    await contributeAll(h, 1, b)
    expect(await verifyAll(h, 1, b)).toBe(false)
    await h.requests.lock(false)
    armed = true
    // update(): rounds, then the committee (admission staged and stored), then the advance: killed there
    await expect(h.coordinator.update()).rejects.toThrow('killed at advance')
    await h.coordinator.stop()
    await db.close()
    const db2 = await Database.open(dir)
    const again = await living({ store: new LevelCoordinatorStore(db2), now: h.clock.now })
    expect(await again.coordinator.record(1)).toBeUndefined()
    expect(again.coordinator.committees.membership.changes).toEqual([])
    expect(again.coordinator.committees.membership.next.map((q) => q.member.name)).toEqual(['node5'])
    await again.coordinator.update()
    expect((await again.coordinator.record(1))?.committeeChange?.decisions.map((d) => d.member.name)).toEqual(['node5'])
    expect(again.coordinator.committees.membership.changes).toHaveLength(1)
    expect(again.coordinator.committees.membership.next).toEqual([])
    await db2.close()
  })
})

describe('bounds', () => {
  it('the committee views and stored state stay bounded as changes pile up', async () => {
    const h = await living({ rules: { maxCommittee: 100 } })
    const store = h.store as MemoryStore
    for (let i = 0; i < 40; i++) {
      const k = key(0x60 + i)
      await h.coordinator.changeMembership((m, now) => m.addToQueue({ name: `v${i}`, peerId: k.peerId.toString(), publicKey: toHex(k.publicKey) }, now))
      await h.coordinator.changeMembership((m, _now, epoch) => { m.update(epoch); return m.commitChange(epoch, epoch + 10 * i) })
    }
    h.clock.now = endOf(500)
    await h.coordinator.update()
    // only changes an open epoch (within the finalization window) can need are kept
    expect(h.coordinator.committees.membership.changes.length).toBeLessThanOrEqual(2)
    expect(JSON.parse(store.membershipJson as string).changes.length).toBeLessThanOrEqual(2)
  })
})
