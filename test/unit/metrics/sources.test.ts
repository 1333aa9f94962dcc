import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { RbcTransport, type TransportHandlers } from '../../../src/broadcast/transport.js'
import { MESSAGE_TYPES, TRAFFIC_TYPES, type TrafficCounts } from '../../../src/broadcast/traffic.js'
import { AuditTrail } from '../../../src/contract/audit.js'
import { Membership } from '../../../src/contract/membership.js'
import { membershipIdOf } from '../../../src/epochs/committee-chain.js'
import type { CommitteeMemberJson } from '../../../src/epochs/record.js'
import { ContractMetrics } from '../../../src/metrics/contract-metrics.js'
import type { NodeKey } from '../../../src/crypto/keys.js'
import type { ItemResult } from '../../../src/epochs/requests.js'
import { NodeMetrics } from '../../../src/metrics/node-metrics.js'
import { createNodeLibp2p, type NodeLibp2p } from '../../../src/network/libp2p.js'
import { Bucket, Database, type StorageObserver } from '../../../src/storage/index.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { engineOptions } from '../../helpers/engine-cluster.js'
import { waitFor } from '../../helpers/env.js'
import { MemoryNetwork } from '../../helpers/memory-network.js'
import { echoMsg, makeBlock, proposal, readyMsg, testKeys } from '../../helpers/rbc-fixtures.js'
import { tempDir } from '../tmp.js'

/** What feeds the metrics, driven for real: the transport's traffic, the database, the audit trail, a libp2p host. */

const quiet = pino({ level: 'silent' })
const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

const sum = (counts: TrafficCounts, field: 'messages' | 'bytes', types: readonly string[]): number =>
  types.reduce((total, t) => total + counts[t as keyof TrafficCounts][field], 0)

describe('RBC traffic by type (transport over an in-memory network)', () => {
  it('counts each message and request once per send, by type, with bytes adding up to the frames', async () => {
    const keys = testKeys(2)
    const [a, b] = keys as [NodeKey, NodeKey]
    const net = new MemoryNetwork()
    const opts = { ...engineOptions().transport, retransmitInitialMs: 100, retransmitMaxMs: 1_000 }
    const sender = new RbcTransport(opts, { network: net.join(a.publicKey), peers: [b.publicKey], logger: quiet })
    const receiver = new RbcTransport(opts, { network: net.join(b.publicKey), peers: [a.publicKey], logger: quiet })
    const block = makeBlock(keys, b, 3)
    const handlers = (onMessages: TransportHandlers['onMessages']): TransportHandlers => ({
      onMessages,
      onFetch: async () => block,
      onSyncList: async () => ({ lastHeight: 1, entries: [{ height: 1, hash: new Uint8Array(32).fill(9) }] }),
      onCertified: async () => undefined
    })
    let received = 0
    // the receiver acknowledges everything except the first READY the first time (so it is sent twice)
    let deferred = false
    await receiver.start(handlers(async (_from, items) => {
      received += items.length
      return items.filter((i) => {
        if (i.message?.type !== 'ready' || deferred) return true
        deferred = true
        return false
      }).map((i) => i.id)
    }))
    await sender.start(handlers(async () => []))
    stops.push(async () => { await sender.stop() }, async () => { await receiver.stop() })

    const p = proposal(keys, a, 1)
    sender.broadcast(p.message)
    sender.broadcast(echoMsg(1, a.publicKey, p.hash))
    sender.broadcast(echoMsg(2, a.publicKey, p.hash))
    sender.broadcast(readyMsg(a, 1, a.publicKey, p.hash))
    await waitFor(() => sender.stats().queued === 0, { timeoutMs: 10_000, what: 'every message acknowledged' })
    expect((await sender.fetch([b.publicKey], 3, b.publicKey, new Uint8Array(32)))?.header.round).toBe(3)
    expect((await sender.syncList(b.publicKey, 0, 10)).entries).toHaveLength(1)

    const out = sender.stats()
    const into = receiver.stats()
    const sent = out.traffic.sent
    expect(Object.fromEntries(MESSAGE_TYPES.map((t) => [t, sent[t].messages]))).toEqual({ propose: 1, echo: 2, ready: 2, fetch: 1, sync: 1, certified: 0 })
    expect(out.retransmitted).toBe(1)
    // RBC messages: the same count as the transport's total, and bytes adding up to its frames exactly
    expect(sum(sent, 'messages', ['propose', 'echo', 'ready'])).toBe(out.sent)
    expect(sum(sent, 'bytes', ['propose', 'echo', 'ready'])).toBe(out.bytesSent)
    // a PROPOSE carries a block (and a signature): more than an ECHO
    expect(sent.propose.bytes).toBeGreaterThan(sent.echo.bytes / 2)
    // what one side sent, the other received, type by type (messages and bytes)
    expect(into.traffic.received).toEqual(out.traffic.sent)
    expect(out.traffic.received).toEqual(into.traffic.sent)
    expect(into.received).toBe(received)
    expect(sent.ack.bytes).toBe(0)
    expect(out.traffic.received.ack.bytes).toBeGreaterThan(0)
    expect(out.traffic.received.fetch).toEqual({ messages: 0, bytes: expect.any(Number) })
    expect(out.traffic.received.fetch.bytes).toBeGreaterThan(sent.fetch.bytes)
    expect(Object.keys(sent).sort()).toEqual([...TRAFFIC_TYPES].sort())
  }, 20_000)
})

describe('storage metrics (a real database)', () => {
  it('times every write by sync, and counts failed reads and writes', async () => {
    const dir = await tempDir()
    const writes: Array<{ seconds: number, sync: boolean }> = []
    const failures: string[] = []
    const observer: StorageObserver = { written: (seconds, sync) => { writes.push({ seconds, sync }) }, failed: (operation) => { failures.push(operation) } }
    const db = await Database.open(dir, { observer })
    const bucket = db.bucket(Bucket.meta)
    await bucket.put('a', new Uint8Array([1]))
    await bucket.put('b', new Uint8Array([2]), { sync: true })
    await bucket.del('a')
    await db.write([{ type: 'put', bucket: Bucket.meta, key: 'c', value: new Uint8Array([3]) }, { type: 'del', bucket: Bucket.meta, key: 'b' }], { sync: true })
    await db.write([])
    expect([...(await bucket.get('c')) ?? []]).toEqual([3])
    expect(writes.map((w) => w.sync)).toEqual([false, true, false, true])
    for (const w of writes) expect(w.seconds).toBeGreaterThan(0)
    expect(failures).toEqual([])
    await db.close()
    await expect(bucket.put('d', new Uint8Array([4]))).rejects.toThrow()
    await expect(bucket.get('c')).rejects.toThrow()
    expect(failures).toEqual(['write', 'read'])
    expect(writes).toHaveLength(4)
  })
})

describe('the audit trail counts refusals with their code', () => {
  it('a thrown EphemeraError, an unexpected fault, and per-chunk results', async () => {
    const counted: Array<[string, string, string | undefined]> = []
    const audit = new AuditTrail(undefined, (decision, outcome, code) => { counted.push([decision, outcome, code]) })
    await expect(audit.decide('submission', {}, async () => { throw new EphemeraError(ErrorCode.EPOCH_DECIDED, 'decided') })).rejects.toThrow('decided')
    await expect(audit.decide('join', {}, async () => { throw new Error('bug') })).rejects.toThrow('bug')
    await audit.decide('lease', {}, async () => 1)
    const results: Array<ItemResult<number>> = [{ chunk: 0, ok: true, value: 1 }, { chunk: 1, ok: false, code: ErrorCode.LEASE_HELD, message: 'held' }]
    await audit.decide('contribution', {}, async () => results, (r) => r)
    expect(counted).toEqual([
      ['submission', 'refused', 'ERR_EPOCH_DECIDED'],
      ['join', 'refused', 'ERR_INTERNAL'],
      ['lease', 'accepted', undefined],
      ['contribution', 'accepted', undefined],
      ['contribution', 'refused', 'ERR_LEASE_HELD']
    ])
  })
})

describe('committee decisions, from the membership\'s events', () => {
  it('a committed change counts each admission and ban once, when it commits', async () => {
    const hexKey = (i: number): string => i.toString(16).padStart(2, '0').repeat(32)
    const member = (i: number): CommitteeMemberJson => ({ name: `v${i}`, peerId: `peer-${i}`, publicKey: hexKey(i), multiaddrs: [] })
    const m = new Membership({ minCommittee: 3, maxCommittee: 6, dropAfterMissed: 3, banAfterDrops: 2, admission: { mode: 'open', allowlist: [], maxQueue: 3 }, maxBans: 10, maxDropRecords: 10 },
      Membership.genesis({ membershipId: membershipIdOf([1, 2, 3, 4].map(hexKey)), members: [1, 2, 3, 4].map(member) }))
    const metrics = new ContractMetrics()
    const feed = (): void => { for (const e of m.takeEvents()) metrics.committeeEvent(e) }
    m.addToQueue(member(5), 1_000)
    m.banKey(member(2), { by: 'admin', reason: 'test', epoch: 6 })
    m.update(7)
    feed()
    const decisions = async (kind: string): Promise<string | undefined> => new RegExp(`^ephemera_contract_committee_decisions_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(await metrics.text())?.[1]
    // staged, not committed yet
    expect(await decisions('admitted')).toBe('0')
    expect(m.commitChange(6, 7)?.decisions.map((d) => d.kind).sort()).toEqual(['admitted', 'banned'])
    feed()
    expect(await decisions('admitted')).toBe('1')
    expect(await decisions('banned')).toBe('1')
    expect(await decisions('dropped')).toBe('0')
    expect(await metrics.text()).toMatch(/^ephemera_contract_committee_events_total\{kind="committed"\} 1$/m)
  })
})

describe('libp2p metrics in the node\'s registry', () => {
  const hosts: NodeLibp2p[] = []
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map(async (h) => { await h.stop() }))
  })

  async function host (seed: number, metrics?: NodeMetrics): Promise<NodeLibp2p> {
    const key = (testKeys(seed + 1)[seed] as NodeKey)
    const libp2p = await createNodeLibp2p({ privateKey: key.privateKey, listen: '/ip4/127.0.0.1/tcp/0', gater: {}, memberAddresses: [], gossipHeartbeatMs: 1_000, metricsRegistry: metrics?.registry })
    await libp2p.start()
    hosts.push(libp2p)
    return libp2p
  }

  it('libp2p_* metrics appear beside the node\'s own, with the process defaults once', async () => {
    const metrics = new NodeMetrics()
    const a = await host(0, metrics)
    const b = await host(1)
    await b.dial(multiaddr(a.getMultiaddrs()[0]!.toString()))
    const text = await waitFor(async () => {
      const t = await metrics.text()
      return /^libp2p_connection_manager_connections\{libp2p_connection_manager_connections="inbound"\} 1$/m.test(t) ? t : undefined
    }, { timeoutMs: 10_000, what: 'the inbound connection counted' })
    expect(text).toMatch(/^libp2p_data_transfer_bytes_total\{protocol="global received"\} [1-9]\d*$/m)
    expect(text).toMatch(/^libp2p_noise_xxhandshake_successes_total 1$/m)
    expect(text).toMatch(/^libp2p_connection_manager_dials_total\{libp2p_connection_manager_dials_total="inbound"\} 1$/m)
    expect(text).toMatch(/^# HELP libp2p_protocol_streams_total /m)
    // prom-client's process defaults are the node's, not collected a second time by the library
    expect(text.match(/^# HELP process_resident_memory_bytes /gm)).toHaveLength(1)
    expect(text).toMatch(/^ephemera_storage_errors_total\{operation="write"\} 0$/m)
  }, 20_000)

  it('a second node\'s metrics and host in the same process (a restart) start without a clash', async () => {
    const first = new NodeMetrics()
    await (await host(2, first)).stop()
    const second = new NodeMetrics()
    await host(3, second)
    const text = await second.text()
    expect(text).toMatch(/^libp2p_connection_manager_connections\{libp2p_connection_manager_connections="inbound"\} 0$/m)
    expect(text.match(/^# HELP process_resident_memory_bytes /gm)).toHaveLength(1)
  }, 20_000)
})
