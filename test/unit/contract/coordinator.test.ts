import { afterEach, describe, it, expect } from 'vitest'
import { toHex } from '../../../src/codec/bytes.js'
import { signRequest } from '../../../src/epochs/auth.js'
import { Coordinator } from '../../../src/contract/coordinator.js'
import { ENVIRONMENTS, epochWindow } from '../../../src/epochs/environment.js'
import { verifyRecord, verifySubmission, type CommitteeJson, type EpochRecordJson, type SubmissionJson } from '../../../src/epochs/record.js'
import { LevelCoordinatorStore, type CoordinatorStore } from '../../../src/contract/store.js'
import { committeeOf } from '../../../src/epochs/committee.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import { verifyPortable } from '../../../src/crypto/portable.js'
import { Database } from '../../../src/storage/database.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'
import {
  clone, COMMITTEE, consensusSubmission, flipHexDigit, KEYS, member, MEMBERS, memberReport, MemoryStore, OUTSIDER, PARAMETERS, refused, standaloneSubmission
} from './fixtures.js'

const ENV = ENVIRONMENTS.testing
const START = 1_700_000_000_400
const GENESIS = 1_700_000_001_000

interface Harness {
  clock: { now: number }
  store: CoordinatorStore
  coordinator: Coordinator
}

function harness (opts: { allowStandalone?: boolean, store?: CoordinatorStore, now?: number } = {}): Harness {
  const clock = { now: opts.now ?? START }
  const store = opts.store ?? new MemoryStore()
  const coordinator = new Coordinator(ENV, { store, clock: () => clock.now, committee: COMMITTEE, parameters: PARAMETERS, verify: verifySignature, allowStandalone: opts.allowStandalone ?? false })
  return { clock, store, coordinator }
}

const endOf = (epoch: number): number => epochWindow(GENESIS, ENV.epochMs, epoch).endMs

/** An initialised coordinator whose clock is `after` ms past the end of `epoch`. */
async function ready (epoch: number, opts: { allowStandalone?: boolean, store?: CoordinatorStore, after?: number } = {}): Promise<Harness> {
  const h = harness(opts)
  expect(await h.coordinator.initialize()).toBe(GENESIS)
  h.clock.now = endOf(epoch) + (opts.after ?? 250)
  return h
}


function failedChecks (err: EphemeraError): string[] {
  const checks = (err.details.response as { checks: Array<{ name: string, ok: boolean }> }).checks
  return checks.filter((c) => !c.ok).map((c) => c.name)
}

const E = 5

describe('Coordinator: genesis and the epoch clock', () => {
  it('fixes genesis at the next whole second on first start, and stores it', async () => {
    const h = harness({ now: 1_700_000_000_400 })
    expect(() => h.coordinator.genesisMs).toThrow(/not initialized/)
    expect(await h.coordinator.initialize()).toBe(1_700_000_001_000)
    expect(h.coordinator.genesisMs).toBe(1_700_000_001_000)
    expect(await h.store.genesis()).toBe(1_700_000_001_000)
    // a clock already on a whole second keeps it
    const exact = harness({ now: 1_700_000_005_000 })
    expect(await exact.coordinator.initialize()).toBe(1_700_000_005_000)
  })

  it('is idempotent, and a restarted coordinator reloads the stored genesis', async () => {
    const h = harness()
    const store = h.store as MemoryStore
    await h.coordinator.initialize()
    h.clock.now += 10_000
    expect(await h.coordinator.initialize()).toBe(GENESIS)
    expect(store.setGenesisCalls).toBe(1)
    const restarted = harness({ store, now: START + 3_600_000 })
    expect(await restarted.coordinator.initialize()).toBe(GENESIS)
    expect(store.setGenesisCalls).toBe(1)
  })

  it('keeps the epoch length with the genesis and refuses to restart with another one', async () => {
    const h = harness()
    const store = h.store as MemoryStore
    await h.coordinator.initialize()
    expect(await store.epochMs()).toBe(ENV.epochMs)
    const longer = new Coordinator({ ...ENV, epochMs: ENV.epochMs * 2 }, { store, clock: () => h.clock.now, committee: COMMITTEE, parameters: PARAMETERS, verify: verifySignature, allowStandalone: false })
    await expect(longer.initialize()).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', message: expect.stringMatching(/made with 2000 ms epochs; it cannot run with 4000 ms/) })
    // data from before the length was stored: the current length is recorded, not refused
    const legacy = new MemoryStore()
    legacy.genesisMs = GENESIS
    const upgraded = harness({ store: legacy })
    expect(await upgraded.coordinator.initialize()).toBe(GENESIS)
    expect(await legacy.epochMs()).toBe(ENV.epochMs)
  })

  it('epochInfo gives the running epoch (at least 1) and its window', async () => {
    const h = harness()
    await h.coordinator.initialize()
    const before = h.coordinator.epochInfo(GENESIS - 1)
    expect(before).toMatchObject({ epoch: 1, startMs: GENESIS, endMs: GENESIS + 2_000, genesisMs: GENESIS, epochMs: 2_000 })
    expect(before.environment).toBe(ENV)
    expect(h.coordinator.epochInfo(GENESIS).epoch).toBe(1)
    expect(h.coordinator.epochInfo(GENESIS + 1_999).epoch).toBe(1)
    expect(h.coordinator.epochInfo(GENESIS + 2_000)).toMatchObject({ epoch: 2, startMs: GENESIS + 2_000, endMs: GENESIS + 4_000 })
    // defaults to the injected clock
    h.clock.now = GENESIS + 9_500
    expect(h.coordinator.epochInfo()).toMatchObject({ epoch: 5, startMs: GENESIS + 8_000, endMs: GENESIS + 10_000 })
  })
})

describe('Coordinator.submit', () => {
  it('refuses a submission before the epoch ends (ERR_EPOCH_NOT_READY) and accepts it at the end', async () => {
    const h = await ready(E)
    const { submission } = consensusSubmission({ epoch: E })
    h.clock.now = endOf(E) - 1
    await refused(h.coordinator.submit(E, submission, member(0)), ErrorCode.EPOCH_NOT_READY, /epoch 5 ends at/)
    await refused(h.coordinator.submit(E + 1, consensusSubmission({ epoch: E + 1 }).submission, member(0)), ErrorCode.EPOCH_NOT_READY)
    expect(await h.coordinator.record(E)).toBeUndefined()
    h.clock.now = endOf(E)
    const record = await h.coordinator.submit(E, submission, member(0))
    expect(record.latencyMs).toBe(0)
  })

  it.each([0, -1, 1.5, Number.NaN])('refuses epoch %d as a bad request', async (epoch) => {
    const h = await ready(E)
    await refused(h.coordinator.submit(epoch, consensusSubmission({ epoch: E }).submission, member(0)), ErrorCode.BAD_REQUEST, /positive integer/)
  })

  it('accepts a valid consensus submission and records winner, window, latency, committee and parameters', async () => {
    const h = await ready(E, { after: 731 })
    const { submission } = consensusSubmission({ epoch: E, creator: 2 })
    const record = await h.coordinator.submit(E, submission, member(1))
    expect(record).toEqual({
      epoch: E,
      startMs: endOf(E) - 2_000,
      endMs: endOf(E),
      committee: COMMITTEE,
      parameters: PARAMETERS,
      submission,
      winner: member(1),
      acceptedAt: endOf(E) + 731,
      latencyMs: 731
    })
    expect(record.latencyMs).toBe(record.acceptedAt - record.endMs)
    expect(await h.coordinator.record(E)).toEqual(record)
    expect(await h.coordinator.records({ limit: 10 })).toEqual([record])
    // the record's reward table is the real aggregate: mixnode 19 has one value → insufficient
    expect(record.submission.rewards[19]).toEqual({ mixnode: 19, performance: null, values: 1, reward: '0' })
    expect(record.submission.rewards.reduce((a, r) => a + BigInt(r.reward), 0n)).toBeLessThanOrEqual(1_000_000n)
  })

  it('refuses a second valid submission for a decided epoch with ERR_EPOCH_DECIDED carrying the winner', async () => {
    const h = await ready(E)
    const first = await h.coordinator.submit(E, consensusSubmission({ epoch: E, creator: 0 }).submission, member(0))
    h.clock.now += 100
    const err = await refused(h.coordinator.submit(E, consensusSubmission({ epoch: E, creator: 3 }).submission, member(3)), ErrorCode.EPOCH_DECIDED, /already has an accepted submission, by node1/)
    expect((err.details.response as { record: EpochRecordJson }).record).toEqual(first)
    // even an invalid or standalone submission learns the winner rather than a refusal
    const bogus = { ...consensusSubmission({ epoch: E }).submission, rewards: [] }
    await refused(h.coordinator.submit(E, bogus, member(2)), ErrorCode.EPOCH_DECIDED)
    expect(await h.coordinator.record(E)).toEqual(first)
  })

  it('of two concurrent valid submissions by different members accepts exactly one', async () => {
    for (let round = 0; round < 5; round++) {
      const h = await ready(E)
      const a = consensusSubmission({ epoch: E, creator: 1 }).submission
      const b = consensusSubmission({ epoch: E, creator: 2 }).submission
      const results = await Promise.allSettled([h.coordinator.submit(E, a, member(1)), h.coordinator.submit(E, b, member(2))])
      const accepted = results.filter((r): r is PromiseFulfilledResult<EpochRecordJson> => r.status === 'fulfilled')
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      expect(accepted).toHaveLength(1)
      expect(rejected).toHaveLength(1)
      const err = rejected[0]?.reason as EphemeraError
      expect(err.code).toBe(ErrorCode.EPOCH_DECIDED)
      const winner = accepted[0]?.value as EpochRecordJson
      expect((err.details.response as { record: EpochRecordJson }).record).toEqual(winner)
      expect(await h.coordinator.record(E)).toEqual(winner)
    }
  })

  it('keeps serving after a refused submission (the queue survives errors)', async () => {
    const h = await ready(E)
    const bad = consensusSubmission({ epoch: E, signers: [0, 1] }).submission
    const good = consensusSubmission({ epoch: E }).submission
    const results = await Promise.allSettled([h.coordinator.submit(E, bad, member(0)), h.coordinator.submit(E, good, member(1))])
    expect(results[0]?.status).toBe('rejected')
    expect(results[1]?.status).toBe('fulfilled')
  })

  it('accepts independent epochs independently', async () => {
    const h = await ready(E + 2)
    for (const e of [E + 2, E, E + 1]) await h.coordinator.submit(e, consensusSubmission({ epoch: e }).submission, member(e % 4))
    expect((await h.coordinator.records({ limit: 10 })).map((r) => r.epoch)).toEqual([E, E + 1, E + 2])
    expect((await h.coordinator.records({ limit: 2, reverse: true })).map((r) => [r.epoch, r.winner.name])).toEqual([[E + 2, 'node4'], [E + 1, 'node3']])
  })
})

describe('Coordinator.submit refuses invalid submissions (ERR_SUBMISSION_INVALID naming the check)', () => {
  async function invalid (submission: SubmissionJson, message: RegExp, opts: { epoch?: number, submitter?: number } = {}): Promise<EphemeraError> {
    const h = await ready(E + 1)
    const err = await refused(h.coordinator.submit(opts.epoch ?? E, submission, member(opts.submitter ?? 0)), ErrorCode.SUBMISSION_INVALID, message)
    expect(err.message).toMatch(new RegExp(`^submission for epoch ${opts.epoch ?? E} refused: `))
    expect(await h.coordinator.record(opts.epoch ?? E)).toBeUndefined()
    return err
  }

  it('the unmodified submission passes every check (control)', () => {
    const report = verifySubmission(consensusSubmission({ epoch: E }).submission, { epoch: E, committee: COMMITTEE, parameters: PARAMETERS, verify: verifySignature })
    expect(report.failure).toBeUndefined()
    expect(report.ok).toBe(true)
    expect(report.signers).toBe(4)
    expect(report.quorum).toBe(3)
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['committee', 'mixnode set', 'report signatures', 'block hash', 'quorum', 'Merkle inclusion', 'report threshold', 'rewards']))
  })

  it('a certificate below quorum (2 of 4 signatures)', async () => {
    const err = await invalid(consensusSubmission({ epoch: E, signers: [0, 1] }).submission, /quorum: 2 distinct members signed, quorum is 3 of 4/)
    expect(failedChecks(err)).toEqual(['quorum'])
  })

  it('a certificate signature by a non-member', async () => {
    const err = await invalid(consensusSubmission({ epoch: E, signers: [0, 1, 2], extraSigners: [OUTSIDER] }).submission, /certificate signatures: signature 3 .*signer is not a member/)
    expect(failedChecks(err)).toEqual(['certificate signatures'])
    // two members and a non-member are not a quorum either
    const short = await invalid(consensusSubmission({ epoch: E, signers: [0, 1], extraSigners: [OUTSIDER] }).submission, /not a member/)
    expect(failedChecks(short)).toEqual(['certificate signatures', 'quorum'])
  })

  it('a duplicated certificate signature does not count twice', async () => {
    const { submission } = consensusSubmission({ epoch: E, signers: [0, 1, 1] })
    const err = await invalid(submission, /duplicate signer/)
    expect(failedChecks(err)).toEqual(['certificate signatures', 'quorum'])
  })

  it('a tampered certificate signature byte', async () => {
    const s = clone(consensusSubmission({ epoch: E }).submission)
    const sig = s.certificate?.signatures[0] as { signature: string }
    sig.signature = flipHexDigit(sig.signature, 17)
    const err = await invalid(s, /certificate signatures: signature 0 .*signature does not verify/)
    // three valid signatures remain: quorum still holds, only the bad signature is named
    expect(failedChecks(err)).toEqual(['certificate signatures'])
  })

  it('a reward table that does not match: one reward changed', async () => {
    const s = clone(consensusSubmission({ epoch: E }).submission)
    const row = s.rewards[3] as { reward: string }
    const original = row.reward
    row.reward = String(BigInt(original) + 1n)
    const err = await invalid(s, new RegExp(`rewards: rewards\\[3\\]\\.reward is "${row.reward}", the reports give "${original}"`))
    expect(failedChecks(err)).toEqual(['rewards'])
  })

  it('a reward table that does not match: one performance changed, a row dropped, a null filled in', async () => {
    const perf = clone(consensusSubmission({ epoch: E }).submission)
    ;(perf.rewards[2] as { performance: number }).performance += 1
    expect(failedChecks(await invalid(perf, /rewards: rewards\[2\]\.performance is/))).toEqual(['rewards'])

    const short = clone(consensusSubmission({ epoch: E }).submission)
    short.rewards.pop()
    await invalid(short, /rewards: the table has 19 rows, the reports give 20/)

    const filled = clone(consensusSubmission({ epoch: E }).submission)
    filled.rewards[19] = { mixnode: 19, performance: 5000, values: 1, reward: '0' }
    await invalid(filled, /rewards: rewards\[19\]\.performance is 5000, the reports give null/)
  })

  it('rewards aggregated with other parameters (mean instead of median)', async () => {
    const s = consensusSubmission({ epoch: E, parameters: { ...PARAMETERS, aggregation: 'mean' } }).submission
    await invalid(s, /^submission for epoch 5 refused: rewards: /)
  })

  it('a report missing from the submission (fewer reports than the block\'s messages)', async () => {
    const built = consensusSubmission({ epoch: E })
    const s = clone(built.submission)
    s.reports.pop()
    // rewards that match the three remaining reports, so only the block/inclusion checks fail
    s.rewards = consensusSubmission({ epoch: E, messages: built.messages.slice(0, 3) }).submission.rewards
    const err = await invalid(s, /refused: /)
    // the block is rebuilt from the reports, so the block checks see 3 messages under a 4-message header
    expect(failedChecks(err)).toContain('Merkle inclusion')
    const checks = (err.details.response as { checks: Array<{ name: string, ok: boolean, detail: string }> }).checks
    expect(checks.find((c) => c.name === 'Merkle inclusion')?.detail).toBe('3 reports for a block of 4 messages')
    expect(err.message).toMatch(/message count: header says 4, block has 3/)
  })

  it('a wrong Merkle inclusion proof (swapped, missing or repeated)', async () => {
    const swapped = clone(consensusSubmission({ epoch: E }).submission)
    const p0 = swapped.reports[0]?.proof
    const p1 = swapped.reports[1]?.proof
    ;(swapped.reports[0] as { proof: unknown }).proof = { ...p0, path: p1?.path }
    ;(swapped.reports[1] as { proof: unknown }).proof = { ...p1, path: p0?.path }
    const err = await invalid(swapped, /Merkle inclusion: report 0: inclusion proof does not verify against messagesRoot/)
    expect(failedChecks(err)).toEqual(['Merkle inclusion'])

    const none = clone(consensusSubmission({ epoch: E }).submission)
    ;(none.reports[2] as { proof: unknown }).proof = null
    await invalid(none, /Merkle inclusion: report 2 has no well-formed proof/)

    const repeated = clone(consensusSubmission({ epoch: E }).submission)
    ;(repeated.reports[3] as { proof: unknown }).proof = repeated.reports[2]?.proof
    await invalid(repeated, /Merkle inclusion: report 3 repeats leaf index 2/)

    const badHex = clone(consensusSubmission({ epoch: E }).submission)
    const path = badHex.reports[1]?.proof?.path as string[]
    path[0] = 'zz'
    await invalid(badHex, /Merkle inclusion: report 1 has no well-formed proof/)
  })

  it('a report for another epoch', async () => {
    const messages = [memberReport(E, 0), memberReport(E, 1), memberReport(E, 2, { reportEpoch: E + 1 }), memberReport(E, 3)]
    const err = await invalid(consensusSubmission({ epoch: E, messages }).submission, /report signatures: report \d: report is for epoch 6, expected 5/)
    expect(failedChecks(err)).toEqual(['report signatures'])
    // and a whole valid submission for epoch 6 offered as epoch 5
    await invalid(consensusSubmission({ epoch: E + 1 }).submission, /report signatures: report 0: report is for epoch 6, expected 5/)
  })

  it('a block whose round is not the epoch', async () => {
    const err = await invalid(consensusSubmission({ epoch: E, round: E + 1 }).submission, /round is the epoch: block round 6, epoch 5/)
    expect(failedChecks(err)).toEqual(['round is the epoch'])
  })

  it('a report by a non-member, a duplicate report, and a tampered report', async () => {
    const outsiderReport = consensusSubmission({ epoch: E }).submission
    const m = memberReport(E, 0)
    const foreign = { ...outsiderReport.reports[0]?.message as object, publicKey: toHex(OUTSIDER.publicKey) }
    const withForeign = clone(outsiderReport)
    ;(withForeign.reports[0] as { message: unknown }).message = foreign
    await invalid(withForeign, /report signatures: report 0: signature does not verify/)

    const dup = consensusSubmission({ epoch: E, messages: [m, memberReport(E, 0, { timestamp: 1 }), memberReport(E, 1), memberReport(E, 2)] }).submission
    await invalid(dup, /report signatures: report \d: a second report by the same member/)

    const tampered = clone(consensusSubmission({ epoch: E }).submission)
    const msg = tampered.reports[1]?.message as { data: string }
    msg.data = (msg.data[0] === 'A' ? 'B' : 'A') + msg.data.slice(1)
    await invalid(tampered, /report signatures: report 1: /)
  })

  it('fewer reports than rewardsThreshold', async () => {
    const err = await invalid(consensusSubmission({ epoch: E, reporters: [0, 2] }).submission, /report threshold: 2 reports, threshold 3/)
    expect(failedChecks(err)).toEqual(['report threshold'])
    // the threshold itself is enough
    const h = await ready(E)
    await h.coordinator.submit(E, consensusSubmission({ epoch: E, reporters: [0, 1, 3] }).submission, member(0))
  })

  it('a header that does not hash to the block hash', async () => {
    const s = clone(consensusSubmission({ epoch: E }).submission)
    ;(s.header as { createdAt: number }).createdAt += 1
    await invalid(s, /block hash: header hashes to/)
  })

  it('a consensus submission without a block', async () => {
    const s = { ...consensusSubmission({ epoch: E }).submission, certificate: null }
    await invalid(s, /block present/)
  })
})

describe('standalone submissions', () => {
  it('are accepted when allowStandalone: the submitter\'s own single report, rewards with minValues 1', async () => {
    const h = await ready(E, { allowStandalone: true })
    const submission = standaloneSubmission(E, 2)
    // minValues 1: every mixnode the one report has a value for is rewarded
    expect(submission.rewards.filter((r) => r.performance != null).length).toBeGreaterThan(15)
    const record = await h.coordinator.submit(E, submission, member(2))
    expect(record.winner).toEqual(member(2))
    expect(record.submission.mode).toBe('standalone')
    expect(verifyRecord(record, verifySignature).ok).toBe(true)
    expect(verifyRecord(record, verifyPortable).ok).toBe(true)
  })

  it('are refused when the report is not the submitter\'s, or there is more than one', async () => {
    const h = await ready(E, { allowStandalone: true })
    await refused(h.coordinator.submit(E, standaloneSubmission(E, 2), member(1)), ErrorCode.SUBMISSION_INVALID, /standalone report: a standalone submission carries exactly the submitter's own report/)
    const two = clone(standaloneSubmission(E, 1))
    two.reports.push(standaloneSubmission(E, 2).reports[0] as SubmissionJson['reports'][number])
    await refused(h.coordinator.submit(E, two, member(1)), ErrorCode.SUBMISSION_INVALID, /standalone report/)
    // rewards computed with the consensus minValues (2) do not match
    const strict = clone(standaloneSubmission(E, 1))
    strict.rewards = strict.rewards.map((r) => ({ ...r, performance: null, reward: '0' }))
    await refused(h.coordinator.submit(E, strict, member(1)), ErrorCode.SUBMISSION_INVALID, /rewards: /)
    expect(await h.coordinator.record(E)).toBeUndefined()
  })

  it('are refused with ERR_FORBIDDEN when not allowed', async () => {
    const h = await ready(E, { allowStandalone: false })
    await refused(h.coordinator.submit(E, standaloneSubmission(E, 2), member(2)), ErrorCode.FORBIDDEN, /standalone/)
    expect(await h.coordinator.record(E)).toBeUndefined()
  })
})

describe('Coordinator.authorize', () => {
  const PATH = `/contract/epochs/${E}/submissions`
  const body = new TextEncoder().encode('{"x":1}')
  const sign = (k: NodeKey, now: number, path = PATH): Record<string, string> => signRequest(k.publicKey, (b) => k.sign(b), 'POST', path, body, now)

  it('returns the committee entry of a member that signed', async () => {
    const h = await ready(E)
    expect(await h.coordinator.authorize(sign(KEYS[2] as NodeKey, h.clock.now), 'POST', PATH, body)).toEqual(member(2))
  })

  it('refuses an unsigned request with ERR_UNAUTHORIZED', async () => {
    const h = await ready(E)
    await refused(h.coordinator.authorize({}, 'POST', PATH, body), ErrorCode.UNAUTHORIZED, /unsigned request/)
    await refused(h.coordinator.authorize(sign(KEYS[0] as NodeKey, h.clock.now), 'POST', '/contract/epochs/9/submissions', body), ErrorCode.UNAUTHORIZED, /does not verify/)
  })

  it('refuses a signer outside the committee with ERR_FORBIDDEN', async () => {
    const h = await ready(E)
    await refused(h.coordinator.authorize(sign(OUTSIDER, h.clock.now), 'POST', PATH, body), ErrorCode.FORBIDDEN, new RegExp(`signer ${toHex(OUTSIDER.publicKey)} is not in the committee`))
  })

  it('refuses the same nonce twice (replay) with ERR_UNAUTHORIZED', async () => {
    const h = await ready(E)
    const headers = sign(KEYS[1] as NodeKey, h.clock.now)
    await h.coordinator.authorize(headers, 'POST', PATH, body)
    h.clock.now += 1_000
    await refused(h.coordinator.authorize(headers, 'POST', PATH, body), ErrorCode.UNAUTHORIZED, /replayed/)
    // concurrent replays: only one gets through
    const fresh = sign(KEYS[1] as NodeKey, h.clock.now)
    const results = await Promise.allSettled([1, 2, 3].map(async () => await h.coordinator.authorize(fresh, 'POST', PATH, body)))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
  })

  it('lets the request go on before its nonce is written, and holds the answer of its decision until it is', async () => {
    const nonceWritten = Promise.withResolvers<void>()
    class SlowNonces extends MemoryStore {
      override async useNonce (key: string, timestamp: number, issued?: (write: Promise<void>) => void): Promise<boolean> {
        const fresh = await super.useNonce(key, timestamp)
        if (fresh) issued?.(nonceWritten.promise)
        return fresh
      }
    }
    const h = await ready(E, { store: new SlowNonces() })
    expect(await h.coordinator.authorize(sign(KEYS[2] as NodeKey, h.clock.now), 'POST', PATH, body)).toEqual(member(2))
    // a decision that writes nothing itself (no round to advance): only the nonce's write holds it
    let answered = false
    const decision = h.coordinator.tryAdvance(E).then((record) => { answered = true; return record })
    await new Promise((resolve) => setImmediate(resolve))
    expect(answered).toBe(false)
    nonceWritten.resolve()
    expect(await decision).toBeUndefined()
  })

  it('refuses a stale request, and update() forgets nonces older than twice the skew', async () => {
    const h = await ready(E)
    const store = h.store as MemoryStore
    const old = sign(KEYS[0] as NodeKey, h.clock.now)
    await h.coordinator.authorize(old, 'POST', PATH, body)
    h.clock.now += ENV.requestSkewMs + 1
    await refused(h.coordinator.authorize(sign(KEYS[0] as NodeKey, h.clock.now - ENV.requestSkewMs - 1), 'POST', PATH, body), ErrorCode.UNAUTHORIZED, /off the coordinator's clock/)
    await h.coordinator.update()
    expect(store.nonces.size).toBe(1)
    h.clock.now += ENV.requestSkewMs
    await h.coordinator.update()
    expect(store.pruneCalls.at(-1)).toBe(h.clock.now - 2 * ENV.requestSkewMs)
    expect(store.nonces.size).toBe(0)
    // the forgotten nonce cannot be replayed anyway: its timestamp is stale
    await refused(h.coordinator.authorize(old, 'POST', PATH, body), ErrorCode.UNAUTHORIZED, /off the coordinator's clock/)
  })
})

describe('verifyRecord on accepted records', () => {
  let record: EpochRecordJson | undefined
  const accepted = async (): Promise<EpochRecordJson> => {
    if (record == null) {
      const h = await ready(E)
      record = await h.coordinator.submit(E, consensusSubmission({ epoch: E, signers: [0, 2, 3] }).submission, member(3))
    }
    return clone(record)
  }

  it('is ok with node:crypto and with the portable verifier', async () => {
    const r = await accepted()
    for (const verify of [verifySignature, verifyPortable]) {
      const report = verifyRecord(r, verify)
      expect(report.failure).toBeUndefined()
      expect(report.ok).toBe(true)
      expect(report.signers).toBe(3)
      expect(report.checks.at(-1)).toEqual({ name: 'winner is a member', ok: true, detail: member(3).peerId })
    }
    expect(verifyRecord(r, verifySignature, COMMITTEE).ok).toBe(true)
  })

  it('fails naming the check when a certificate signature hex digit is altered', async () => {
    const r = await accepted()
    const sig = r.submission.certificate?.signatures[1] as { signature: string }
    sig.signature = flipHexDigit(sig.signature, 100)
    for (const verify of [verifySignature, verifyPortable]) {
      const report = verifyRecord(r, verify)
      expect(report.ok).toBe(false)
      expect(report.failure).toMatch(/^certificate signatures: signature 1 .*signature does not verify/)
    }
  })

  it('fails naming the check when a reward value is altered', async () => {
    const r = await accepted()
    const row = r.submission.rewards[0] as { reward: string }
    row.reward = String(BigInt(row.reward) - 1n)
    const report = verifyRecord(r, verifySignature)
    expect(report.ok).toBe(false)
    expect(report.failure).toMatch(/^rewards: rewards\[0\]\.reward is/)
  })

  it('fails when the reports are not in sender order (a block\'s reports are sorted by sender key)', async () => {
    const r = await accepted()
    const [a, b] = r.submission.reports
    r.submission.reports[0] = b!
    r.submission.reports[1] = a!
    expect(verifyRecord(r, verifySignature).failure).toBe('report signatures: report 1: reports are not sorted by sender key')
  })

  it('fails when the parameters in the record are altered, even with the rewards recomputed for them: the signed reports commit to the parameters', async () => {
    const r = await accepted()
    r.parameters.rewardPool = '2000000'
    expect(verifyRecord(r, verifySignature).failure).toBe('report signatures: report 0: report is for other parameters (its parametersId differs)')
    r.submission.rewards = r.submission.rewards.map((row) => ({ ...row, reward: String(BigInt(row.reward) * 2n) }))
    expect(verifyRecord(r, verifySignature).failure).toBe('report signatures: report 0: report is for other parameters (its parametersId differs)')
  })

  it('fails against a trusted committee other than the record\'s, and for a winner outside it', async () => {
    const r = await accepted()
    const other: CommitteeJson = committeeOf(MEMBERS.slice(0, 3))
    // member 4's report and READY signature do not count under a committee without it
    expect(verifyRecord(r, verifySignature, other).failure).toMatch(/^report signatures: report \d: report sender is not in the committee/)
    const outsider = clone(r)
    outsider.winner = { name: 'mallory', peerId: OUTSIDER.peerId.toString(), publicKey: toHex(OUTSIDER.publicKey) }
    const report = verifyRecord(outsider, verifySignature)
    expect(report.ok).toBe(false)
    expect(report.failure).toMatch(/^winner is a member: /)
    // a record whose committee was swapped for one that hashes differently
    const forged = clone(r)
    forged.committee.membershipId = '00'.repeat(32)
    expect(verifyRecord(forged, verifySignature).failure).toMatch(/^committee: the members hash to/)
  })
})

describe('Coordinator on the level store', () => {
  const dbs: Database[] = []
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map(async (db) => { await db.close() }))
  })

  async function open (dir: string): Promise<LevelCoordinatorStore> {
    const db = await Database.open(dir)
    dbs.push(db)
    return new LevelCoordinatorStore(db)
  }

  it('keeps genesis, records and used nonces across close and reopen', async () => {
    const dir = await tempDir()
    const first = await ready(E + 1, { store: await open(dir) })
    const r5 = await first.coordinator.submit(E, consensusSubmission({ epoch: E }).submission, member(0))
    const r6 = await first.coordinator.submit(E + 1, consensusSubmission({ epoch: E + 1 }).submission, member(1))
    const r3 = await first.coordinator.submit(3, consensusSubmission({ epoch: 3 }).submission, member(2))
    const path = `/contract/epochs/${E}/submissions`
    const body = new Uint8Array([1, 2, 3])
    const headers = signRequest((KEYS[0] as NodeKey).publicKey, (b) => (KEYS[0] as NodeKey).sign(b), 'POST', path, body, first.clock.now)
    await first.coordinator.authorize(headers, 'POST', path, body)
    await (dbs.pop() as Database).close()

    const second = harness({ store: await open(dir), now: START + 86_400_000 })
    expect(await second.coordinator.initialize()).toBe(GENESIS)
    expect(await second.coordinator.record(E)).toEqual(r5)
    expect(await second.coordinator.record(4)).toBeUndefined()
    expect(await second.coordinator.records({ limit: 10 })).toEqual([r3, r5, r6])
    expect((await second.coordinator.records({ limit: 2, reverse: true })).map((r) => r.epoch)).toEqual([6, 5])
    expect((await second.coordinator.records({ from: 5, limit: 10, reverse: true })).map((r) => r.epoch)).toEqual([5, 3])
    expect((await second.coordinator.records({ from: 4, limit: 10 })).map((r) => r.epoch)).toEqual([5, 6])
    // the decided epoch stays decided
    second.clock.now = first.clock.now
    await refused(second.coordinator.submit(E, consensusSubmission({ epoch: E, creator: 3 }).submission, member(3)), ErrorCode.EPOCH_DECIDED)
    // and the nonce stays burned
    await refused(second.coordinator.authorize(headers, 'POST', path, body), ErrorCode.UNAUTHORIZED, /replayed/)
    expect(verifyRecord(r5, verifySignature).ok).toBe(true)
  })

  // the nonce is claimed before the store is consulted, so concurrent replays cannot both pass
  it('lets a signed request through once when replayed concurrently', async () => {
    const h = await ready(E, { store: await open(await tempDir()) })
    const path = `/contract/epochs/${E}/submissions`
    const body = new Uint8Array([9])
    const headers = signRequest((KEYS[1] as NodeKey).publicKey, (b) => (KEYS[1] as NodeKey).sign(b), 'POST', path, body, h.clock.now)
    const results = await Promise.allSettled([1, 2, 3].map(async () => await h.coordinator.authorize(headers, 'POST', path, body)))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
  })

  it('prunes old nonces from disk', async () => {
    const store = await open(await tempDir())
    expect(await store.useNonce('a:1', 100)).toBe(true)
    expect(await store.useNonce('a:2', 200)).toBe(true)
    expect(await store.useNonce('a:1', 300)).toBe(false)
    expect(await store.pruneNonces(150)).toBe(1)
    expect(await store.useNonce('a:1', 400)).toBe(true)
    expect(await store.useNonce('a:2', 400)).toBe(false)
  })
})
