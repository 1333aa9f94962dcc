import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { HttpServer } from '../../../src/api/server.js'
import { committedSummary } from '../../../src/epochs/epoch-summary.js'
import { loadContractConfig } from '../../../src/config/index.js'
import { toHex } from '../../../src/codec/bytes.js'
import { ContractEvents, coordinatorHooks } from '../../../src/contract/events.js'
import type { MembershipRules } from '../../../src/contract/membership.js'
import { ContractService } from '../../../src/contract/service.js'
import { ValidatorRequests } from '../../../src/contract/validator-requests.js'
import { CONTRACT_WS_PATH, registerContractWsRoute, type ContractWsSource } from '../../../src/contract/ws-api.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import { signRequest } from '../../../src/epochs/auth.js'
import { evidenceHash, reportEvidence } from '../../../src/epochs/evidence.js'
import type { CommitteeMemberJson, EpochRecordJson, ParametersJson } from '../../../src/epochs/record.js'
import { waitFor } from '../../helpers/env.js'
import { wsConnect, wsRefused, type WsTestClient } from '../../helpers/ws-client.js'
import { key } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'
import { COMMITTEE, consensusSubmission, KEYS, MEMBERS, memberReport, MIXNODES, PARAMETERS } from './fixtures.js'
import { blockOf, contributeAll, endOf, harness, registerKeys, roundOf, verifyAll, type Harness } from './round-driver.js'

/**
 * WS /contract/ws over a real Coordinator in-process (the round driver's injected clock): a
 * rollback, a committed epoch with the committee change it decided, round progress and evidence
 * as they happen; `?types=`; `?from_epoch=` replaying the stored records with epochs committed
 * while it runs (none twice, none missed); the refusals; and the route as ContractService serves it.
 */

const NEWCOMER: NodeKey = key(0x51)
registerKeys([NEWCOMER])
const newcomer: CommitteeMemberJson = { name: 'node5', peerId: NEWCOMER.peerId.toString(), publicKey: toHex(NEWCOMER.publicKey), multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] }
const genesisMember = (i: number): CommitteeMemberJson => COMMITTEE.members[i] as CommitteeMemberJson
const parametersFor = (size: number): ParametersJson => ({ ...PARAMETERS, rewardsThreshold: size - Math.floor((size - 1) / 3) })
const RULES: MembershipRules = { minCommittee: 3, maxCommittee: 6, dropAfterMissed: 0, banAfterDrops: 0, admission: { mode: 'open', allowlist: [], maxQueue: 8 }, maxBans: 100, maxDropRecords: 100 }

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface Setup {
  h: Harness
  requests: ValidatorRequests
  server: HttpServer
  url: string
  /** Runs before the replay reads the records from an epoch (to commit epochs while it runs). */
  beforeRecords: Map<number, () => Promise<void>>
}

async function setup (opts: { maxReplay?: number } = {}): Promise<Setup> {
  const events = new ContractEvents()
  const h: Harness = await harness({ membership: RULES, parametersFor, hooks: coordinatorHooks(events, () => h.coordinator.openRounds()) })
  const beforeRecords: Setup['beforeRecords'] = new Map()
  const source: ContractWsSource = {
    epochInfo: (now) => h.coordinator.epochInfo(now),
    records: async (o) => {
      await beforeRecords.get(o.from ?? 0)?.()
      return await h.coordinator.records(o)
    }
  }
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
  cleanups.push(async () => { await server.stop(); await server.app.close() })
  registerContractWsRoute(server.app, source, events, () => h.clock.now, { maxClients: 8, maxBufferedBytes: 1024 * 1024, maxReplay: opts.maxReplay ?? 100 })
  await server.start()
  return { h, requests: new ValidatorRequests(h.coordinator, verifySignature), server, beforeRecords, url: `${server.url.replace('http', 'ws')}${CONTRACT_WS_PATH}` }
}

const connect = async (url: string): Promise<WsTestClient> => await wsConnect(url, (fn) => { cleanups.push(fn) })

/** Commits an epoch with a block of the genesis committee, every chunk by its lease holder. */
async function commit (h: Harness, epoch: number): Promise<EpochRecordJson> {
  h.clock.now = Math.max(h.clock.now, endOf(epoch) + 10)
  const b = blockOf(epoch)
  await contributeAll(h, epoch, b)
  expect(await verifyAll(h, epoch, b)).toBe(true)
  return await h.coordinator.record(epoch) as EpochRecordJson
}

const epochs = (c: WsTestClient): number[] => c.frames.filter((f) => f.type === 'epoch').map((f) => f.epoch.epoch as number)

describe('WS /contract/ws: live events', () => {
  it('a rollback, the committed epoch with its committee change, round progress and evidence, as they happen; ?types picks', async () => {
    const s = await setup()
    const { h } = s
    const all = await connect(s.url)
    const picked = await connect(`${s.url}?types=rollback,evidence`)
    h.clock.now = endOf(1) + 10
    await s.requests.addToQueue(newcomer, { name: 'node5', multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] })
    await h.coordinator.update()
    const b = blockOf(1)
    await contributeAll(h, 1, b, [0, 1, 2])
    h.clock.now = (await roundOf(h, 1)).attemptDeadline + 1
    const rolledAt = h.clock.now
    await h.coordinator.update()
    await contributeAll(h, 1, b)
    expect(await verifyAll(h, 1, b)).toBe(true)
    const r1 = await h.coordinator.record(1) as EpochRecordJson
    expect(r1.committeeChange?.decisions.map((d) => d.member.name)).toEqual(['node5'])
    // node2 signs two different reports for epoch 2: node1 sends the evidence
    h.clock.now = endOf(2) + 10
    const evidence = reportEvidence(memberReport(2, 1), memberReport(2, 1, { values: new Uint16Array(20).fill(7) }))
    await s.requests.evidence(genesisMember(0), evidence)

    const rollback = { type: 'rollback', rollback: { epoch: 1, attempt: 1, at: rolledAt, reason: 'attempt 0 timed out: chunk 3 never contributed; chunks 0, 1, 2 not verified' } }
    const evidenceFrame = {
      type: 'evidence',
      evidence: {
        hash: evidenceHash(evidence),
        kind: 'report-equivocation',
        epoch: 2,
        offender: { name: 'node2', publicKey: genesisMember(1).publicKey },
        submittedBy: genesisMember(0).publicKey,
        submittedAt: h.clock.now,
        ban: { by: 'evidence', reason: 'report-equivocation at epoch 2, evidence from node1', epoch: 3 }
      }
    }
    await waitFor(() => picked.frames.length === 2 && all.frames.some((f) => f.type === 'evidence'), { timeoutMs: 5_000, what: 'the evidence frame' })
    expect(picked.frames).toEqual([rollback, evidenceFrame])
    expect(all.frames).toEqual([
      rollback,
      { type: 'epoch', epoch: committedSummary(r1) },
      { type: 'committee', committee: r1.committeeChange },
      { type: 'round', round: { epoch: 1, kind: 'committed', at: expect.any(Number), detail: '4 chunks, attempt 1' } },
      evidenceFrame
    ])
    // the epoch's entry of GET /contract/epochs
    expect(all.frames[1]?.epoch).toMatchObject({ epoch: 1, status: 'committed', chunks: { total: 4, contributed: 4, verified: 4 }, winner: r1.winner.name, committeeSize: 4, committeeChange: { effectiveEpoch: r1.committeeChange?.effectiveEpoch, decisions: ['admitted node5'] } })
  })
})

describe('WS /contract/ws?from_epoch=E', () => {
  it('replays the committed records from E (epoch and committee frames), then the live ones: an epoch committed during the replay arrives once, a later one is not missed', async () => {
    const s = await setup()
    const { h } = s
    h.clock.now = endOf(1) + 10
    await s.requests.addToQueue(newcomer, { name: 'node5', multiaddrs: ['/ip4/127.0.0.1/tcp/4005'] })
    const r1 = await commit(h, 1)
    // epoch 3 runs: the replay covers the records up to epoch 2, which is not committed yet
    h.clock.now = endOf(2) + 10
    let r2: EpochRecordJson | undefined
    let r3: EpochRecordJson | undefined
    s.beforeRecords.set(2, async () => {
      r2 = await commit(h, 2)
      r3 = await commit(h, 3)
    })
    const c = await connect(`${s.url}?from_epoch=1&types=epoch,committee`)
    await waitFor(() => epochs(c).includes(3), { timeoutMs: 10_000, what: 'epoch 3' })
    expect(c.frames).toEqual([
      { type: 'epoch', epoch: committedSummary(r1) },
      { type: 'committee', committee: r1.committeeChange },
      { type: 'epoch', epoch: committedSummary(r2 as EpochRecordJson) },
      { type: 'replayed', replayed: { fromEpoch: 1, toEpoch: 2, frames: 3 } },
      { type: 'epoch', epoch: committedSummary(r3 as EpochRecordJson) }
    ])
  })

  it('refuses a bad query with 400 before the upgrade, and replays at most http.ws_max_replay epochs; a plain GET is 426', async () => {
    const s = await setup({ maxReplay: 2 })
    s.h.clock.now = endOf(4) + 10
    const cases: Array<[string, RegExp]> = [
      ['from_epoch=0', /from_epoch must be an integer from 1/],
      ['from_epoch=6', /from_epoch 6 has not started: the current epoch is 5/],
      ['from_epoch=2', /from_epoch 2 is 3 epochs back; at most 2 are replayed \(http.ws_max_replay\)/],
      ['from_epoch=4&types=round,rollback', /from_epoch replays committed records: add "epoch" or "committee" to types/],
      ['types=epoch,blocks', /unknown event type "blocks"; the types are epoch, committee, rollback, round, evidence/],
      ['from_height=3', /unknown query parameter "from_height"; this endpoint takes types, from_epoch/]
    ]
    for (const [query, message] of cases) {
      expect(await wsRefused(`${s.url}?${query}`), query).toEqual({ status: 400, body: { error: 'ERR_BAD_REQUEST', message: expect.stringMatching(message) } })
    }
    const c = await connect(`${s.url}?from_epoch=3`)
    await waitFor(() => c.frames.length === 1, { timeoutMs: 5_000, what: 'the end frame' })
    expect(c.frames).toEqual([{ type: 'replayed', replayed: { fromEpoch: 3, toEpoch: 4, frames: 0 } }])
    const plain = await s.server.app.inject({ method: 'GET', url: CONTRACT_WS_PATH })
    expect(plain.statusCode).toBe(426)
    expect(plain.json()).toEqual({ error: 'ERR_BAD_REQUEST', message: `GET ${CONTRACT_WS_PATH} is a WebSocket endpoint: connect with "Upgrade: websocket"` })
  })
})

describe('WS /contract/ws in ContractService', () => {
  it('pushes the epoch committed through the HTTP API and replays it from the level store', async () => {
    const root = await tempDir('ephemera-contract-ws-')
    const peers = join(root, 'peers.toml')
    await writeFile(peers, MEMBERS.map((m) => `[[members]]\nname = "${m.name}"\npeer_id = "${m.peerId}"\naddress = "${m.address}"\n`).join('\n'))
    const file = join(root, 'coordinator.toml')
    await writeFile(file, `peers_file = "${peers}"\nenvironment = "testing"\nepoch_ms = 500\n\n[rewards]\nmixnodes = ${MIXNODES}\n\n[http]\nport = 0\nws_max_replay = 10\n`)
    const clock = { now: Date.now() }
    const service = await ContractService.start(await loadContractConfig(file, { env: {} }), { logger: pino({ level: 'silent' }), clock: () => clock.now })
    cleanups.push(async () => { await service.close() })
    const url = `${service.http.url.replace('http', 'ws')}${CONTRACT_WS_PATH}`
    clock.now = service.coordinator.genesisMs + 40 * 500 + 100
    const live = await connect(`${url}?types=epoch`)
    const body = JSON.stringify(consensusSubmission({ epoch: 40 }).submission)
    const path = '/contract/epochs/40/submissions'
    const k = KEYS[0] as NodeKey
    const res = await fetch(`${service.http.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...signRequest(k.publicKey, (b) => k.sign(b), 'POST', path, new TextEncoder().encode(body), clock.now) } })
    expect(res.status).toBe(200)
    const record = await service.coordinator.record(40) as EpochRecordJson
    await waitFor(() => live.frames.length === 1, { timeoutMs: 5_000, what: 'the epoch frame' })
    expect(live.frames).toEqual([{ type: 'epoch', epoch: committedSummary(record) }])
    // the same entry GET /contract/epochs lists
    const listed = await (await fetch(`${service.http.url}/contract/epochs?from=40&limit=1`)).json() as { epochs: unknown[] }
    expect(listed.epochs).toEqual([live.frames[0]?.epoch])
    const resumed = await connect(`${url}?from_epoch=40`)
    await waitFor(() => resumed.frames.length === 2, { timeoutMs: 5_000, what: 'the replay' })
    expect(resumed.frames).toEqual([{ type: 'epoch', epoch: committedSummary(record) }, { type: 'replayed', replayed: { fromEpoch: 40, toEpoch: 40, frames: 1 } }])
    // at most ws_max_replay = 10 epochs back from the current 41
    expect((await wsRefused(`${url}?from_epoch=1`)).status).toBe(400)
    const plain = await fetch(`${service.http.url}${CONTRACT_WS_PATH}`)
    expect(plain.status).toBe(426)
    expect(await plain.json()).toMatchObject({ error: 'ERR_BAD_REQUEST' })
  })
})
