import { afterEach, describe, expect, it } from 'vitest'
import { HttpServer } from '../../src/api/index.js'
import { toHex } from '../../src/codec/bytes.js'
import { registerContractRoutes } from '../../src/contract/api.js'
import { Coordinator } from '../../src/contract/coordinator.js'
import { environmentWithEpoch } from '../../src/epochs/environment.js'
import { verifyRecord, type EpochRecordJson } from '../../src/epochs/record.js'
import { verifySignature } from '../../src/crypto/keys.js'
import { ChunkDuties } from '../../src/rewards/chunk-duties.js'
import { CoordinatorClient } from '../../src/rewards/coordinator-client.js'
import { silentLogger } from '../../src/util/logger.js'
import { waitFor } from '../helpers/env.js'
import { COMMITTEE, consensusSubmission, KEYS, MemoryStore, PARAMETERS } from '../unit/contract/fixtures.js'

/**
 * Four members' chunk duties (src/rewards/chunk-duties.ts) against a real coordinator served over
 * HTTP on loopback: 1-second epochs, 20 mixnodes in chunks of 5 (one chunk per member). The long
 * poll and the pause after a step that could not be done are both 30 s here, so a member that
 * waited either out where the round had already moved on would not finish within the test's
 * deadline.
 */

const EPOCH_MS = 1_000
const LONG_MS = 30_000

interface Harness { coordinator: Coordinator, http: HttpServer, url: string }
let harness: Harness | undefined

afterEach(async () => {
  await harness?.http.stop()
  await harness?.coordinator.stop()
  harness = undefined
})

/** `ticking`: the coordinator's own timer runs (it opens an ended epoch's round and expires leases); without it, only a member's lock opens a round. */
async function start (opts: { ticking: boolean }): Promise<Harness> {
  const coordinator = new Coordinator(environmentWithEpoch('testing', EPOCH_MS, 5), { store: new MemoryStore(), clock: Date.now, committee: COMMITTEE, parameters: PARAMETERS, verify: verifySignature, allowStandalone: false })
  await coordinator.initialize()
  if (opts.ticking) coordinator.start({ onError: () => {} })
  const http = new HttpServer({ host: '127.0.0.1', port: 0 }, silentLogger())
  registerContractRoutes(http.app, coordinator, Date.now, verifySignature)
  await http.start()
  return { coordinator, http, url: http.url }
}

/** A client whose looks at the round wait until `open` resolves (the uploads go through at once). */
class HeldClient extends CoordinatorClient {
  constructor (url: string, key: (typeof KEYS)[number], readonly open: Promise<void>) { super(url, key) }
  override async round (...args: Parameters<CoordinatorClient['round']>): ReturnType<CoordinatorClient['round']> {
    await this.open
    return await super.round(...args)
  }
}

/** Member i's duties for `epoch`, with the block certified by all four; with `rotation`, its first upload is made without looking at the round. */
async function duties (h: Harness, i: number, epoch: number, opts: { retryMs: number, rotation?: boolean, roundOpen?: Promise<void> }, signal: AbortSignal): Promise<EpochRecordJson> {
  const built = consensusSubmission({ epoch })
  const key = KEYS[i] as (typeof KEYS)[number]
  const client = opts.roundOpen != null ? new HeldClient(h.url, key, opts.roundOpen) : new CoordinatorClient(h.url, key)
  const member = new ChunkDuties({ client, key, committee: () => COMMITTEE, logger: silentLogger(), clock: Date.now })
  return await member.run({
    epoch,
    delivered: { hash: built.hash, block: built.block, certificate: built.certificate, localHeight: epoch },
    parameters: PARAMETERS,
    ...(opts.rotation === true ? { rotation: { chunkSize: h.coordinator.environment.chunkSize, verifiersPerChunk: h.coordinator.environment.verifiersPerChunk } } : {}),
    deadline: Date.now() + 60_000,
    pollMs: LONG_MS,
    retryMs: opts.retryMs,
    onProgress: () => {}
  }, signal)
}

describe('chunk duties against the coordinator over HTTP', () => {
  it('members that find the round not yet open open it and go on at once; every member learns the commit as it happens', async () => {
    harness = await start({ ticking: false })
    const h = harness
    await waitFor(() => h.coordinator.epochInfo(Date.now()).epoch >= 2, { timeoutMs: 5_000, what: 'epoch 1 to end' })
    const epoch = h.coordinator.epochInfo(Date.now()).epoch - 1
    expect(await h.coordinator.round(epoch)).toBeUndefined()
    const signal = AbortSignal.timeout(8_000)
    const records = await Promise.all(KEYS.map(async (_k, i) => await duties(h, i, epoch, { retryMs: LONG_MS }, signal)))
    const record = await h.coordinator.record(epoch)
    expect(record?.submission.blockHash).toBeDefined()
    for (const r of records) expect(r.submission.blockHash).toBe(record?.submission.blockHash)
    // one chunk per member, each contributed by the member first offered it: nobody's lease passed on
    expect(record?.chunks?.map((c) => c.contributor).sort()).toEqual(COMMITTEE.members.map((m) => m.publicKey).sort())
  }, 20_000)

  it('the first member\'s contribution brings the block and it verifies the chunks it is assigned at once, before their contributions arrive', async () => {
    harness = await start({ ticking: true })
    const h = harness
    await waitFor(() => h.coordinator.epochInfo(Date.now()).epoch >= 2, { timeoutMs: 5_000, what: 'epoch 1 to end' })
    const epoch = h.coordinator.epochInfo(Date.now()).epoch - 1
    const signal = AbortSignal.timeout(12_000)
    const first = toHex(KEYS[0]!.publicKey)
    const firstDone = duties(h, 0, epoch, { retryMs: LONG_MS }, signal)
    // within one pass (its long poll and its pause are 30 s): its chunk, and every finding it owes
    await waitFor(async () => {
      const round = await h.coordinator.round(epoch)
      return round?.chunks.every((c) => !c.verifiers.includes(first) || c.verifications.some((v) => v.verifier === first)) === true
    }, { timeoutMs: 5_000, what: 'the first member\'s verifications' })
    const round = await h.coordinator.round(epoch)
    expect(round?.chunks.filter((c) => c.contribution != null).map((c) => c.contribution?.contributor)).toEqual([first])
    expect(round?.chunks.filter((c) => c.contribution == null && c.verifications.length > 0).length).toBe(2)
    // the others find the block fixed: each uploads its chunk and its findings together; the last upload commits
    const records = await Promise.all([firstDone, ...KEYS.slice(1).map(async (_k, i) => await duties(h, i + 1, epoch, { retryMs: LONG_MS }, signal))])
    const record = await h.coordinator.record(epoch)
    for (const r of records) expect(r.submission.blockHash).toBe(record?.submission.blockHash)
    const report = verifyRecord(record as EpochRecordJson, verifySignature)
    expect(report.ok, report.failure).toBe(true)
  }, 20_000)

  it('knowing the rotation, every member uploads its chunk and its findings before it looks at the round, and the last upload commits', async () => {
    harness = await start({ ticking: true })
    const h = harness
    await waitFor(() => h.coordinator.epochInfo(Date.now()).epoch >= 2, { timeoutMs: 5_000, what: 'epoch 1 to end' })
    const epoch = h.coordinator.epochInfo(Date.now()).epoch - 1
    const signal = AbortSignal.timeout(12_000)
    let open: () => void = () => {}
    const roundOpen = new Promise<void>((resolve) => { open = resolve })
    const running = KEYS.map(async (_k, i) => await duties(h, i, epoch, { retryMs: LONG_MS, rotation: true, roundOpen }, signal))
    try {
      // nobody has seen the round: the uploads alone commit the epoch
      await waitFor(async () => await h.coordinator.record(epoch), { timeoutMs: 8_000, what: 'the commit from the first uploads' })
    } finally {
      open()
    }
    const records = await Promise.all(running)
    const record = await h.coordinator.record(epoch)
    for (const r of records) expect(r.submission.blockHash).toBe(record?.submission.blockHash)
    expect(record?.chunks?.map((c) => c.contributor).sort()).toEqual(COMMITTEE.members.map((m) => m.publicKey).sort())
  }, 20_000)

  it('a member that starts before the epoch has ended at the coordinator keeps trying and does its part once it has', async () => {
    harness = await start({ ticking: true })
    const h = harness
    await waitFor(() => h.coordinator.epochInfo(Date.now()).epoch >= 2, { timeoutMs: 5_000, what: 'epoch 1 to end' })
    const epoch = h.coordinator.epochInfo(Date.now()).epoch
    const signal = AbortSignal.timeout(8_000)
    const records = await Promise.all(KEYS.map(async (_k, i) => await duties(h, i, epoch, { retryMs: 50 }, signal)))
    const record = await h.coordinator.record(epoch)
    expect(record?.acceptedAt).toBeGreaterThanOrEqual(record?.endMs as number)
    for (const r of records) expect(r.submission.blockHash).toBe(record?.submission.blockHash)
  }, 20_000)
})
