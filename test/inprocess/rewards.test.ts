import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { HttpServer } from '../../src/api/index.js'
import { toHex } from '../../src/codec/bytes.js'
import { registerContractRoutes } from '../../src/contract/api.js'
import { committeeOf } from '../../src/epochs/committee.js'
import { Coordinator } from '../../src/contract/coordinator.js'
import { environmentWithEpoch } from '../../src/epochs/environment.js'
import type { ParametersJson } from '../../src/epochs/record.js'
import { LevelCoordinatorStore } from '../../src/contract/store.js'
import { verifySignature } from '../../src/crypto/keys.js'
import { CoordinatorClient } from '../../src/rewards/coordinator-client.js'
import { mixnodeSetId } from '../../src/epochs/report.js'
import { RewardsService } from '../../src/rewards/service.js'
import { EpochCommittees } from '../../src/rewards/epoch-committees.js'
import { peerIdOf } from '../../src/block/json.js'
import { Database } from '../../src/storage/index.js'
import { EngineCluster, type TestNode } from '../helpers/engine-cluster.js'
import { waitFor } from '../helpers/env.js'

/**
 * The rewards service in process: four nodes (rewards service + broadcast engine, real level
 * databases) over an in-memory network, reporting to a real coordinator served over HTTP on
 * loopback by the coordinator client. 1-second epochs.
 */

const MIXNODES = 20
const EPOCH_MS = 1_000

interface Harness {
  cluster: EngineCluster
  coordinator: Coordinator
  http: HttpServer
  services: Map<number, RewardsService>
  close: () => Promise<void>
}

let harness: Harness | undefined

afterEach(async () => {
  await harness?.close()
  harness = undefined
})

async function start (): Promise<Harness> {
  const services = new Map<number, RewardsService>()
  let url = ''
  const attach = (node: TestNode): RewardsService => {
    const service = new RewardsService({
      propose: true,
      mixnodes: MIXNODES,
      simulator: { networkSeed: 1, flappingPermille: 100, noise: 5 },
      fault: 'none',
      standalone: false,
      keepEpochs: 20,
      autoJoin: true,
      name: `node${node.index + 1}`
    }, {
      engine: node.engine,
      network: node.peer,
      gossip: node.peer,
      key: node.key,
      members: node.engine.members,
      committees: new EpochCommittees(committeeOf(node.engine.members.map((m) => ({ name: m.name, peerId: peerIdOf(m.publicKey), address: m.address }))), { name: `node${node.index + 1}`, peerId: node.key.peerId.toString(), publicKey: toHex(node.key.publicKey) }, node.db),
      db: node.db,
      client: new CoordinatorClient(url, node.key),
      logger: node.log.logger
    })
    services.set(node.index, service)
    return service
  }
  const cluster = new EngineCluster(4, { attach })
  const dir = await mkdtemp(join(tmpdir(), 'ephemera-coordinator-'))
  const db = await Database.open(dir)
  const committee = committeeOf(cluster.members.map((m, i) => ({ name: `node${i + 1}`, peerId: cluster.keys[i]!.peerId.toString(), address: m.address })))
  const parameters: ParametersJson = { mixnodes: MIXNODES, mixnodeSetId: toHex(mixnodeSetId(MIXNODES)), aggregation: 'median', trimPermille: 200, minValues: 2, rewardPool: '1000000', rewardsThreshold: 3 }
  const coordinator = new Coordinator(environmentWithEpoch('testing', EPOCH_MS), { store: new LevelCoordinatorStore(db), clock: Date.now, committee, parameters, verify: verifySignature, allowStandalone: false })
  await coordinator.initialize()
  coordinator.start({ onError: () => {} })
  const http = new HttpServer({ host: '127.0.0.1', port: 0, bodyLimit: 32 * 1024 * 1024 }, pino({ level: 'silent' }))
  registerContractRoutes(http.app, coordinator, Date.now, verifySignature)
  await http.start()
  url = http.url
  await cluster.start()
  return {
    cluster,
    coordinator,
    http,
    services,
    close: async () => {
      await cluster.stop()
      await http.stop()
      await coordinator.stop()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function committed (h: Harness, epochs: number[]): Promise<void> {
  await waitFor(async () => {
    for (const e of epochs) if (await h.coordinator.record(e) == null) return false
    return true
  }, { timeoutMs: 30_000, what: `epochs ${epochs.join(', ')} committed` })
}

describe('rewards service over an in-memory network', () => {
  it('commits every epoch; every node adopts the coordinator\'s record; what it keeps per epoch stays bounded', async () => {
    harness = await start()
    const first = harness.coordinator.epochInfo().epoch + 1
    const last = first + 14
    const epochs = Array.from({ length: last - first + 1 }, (_, i) => first + i)
    await committed(harness, epochs)
    for (const [i, service] of harness.services) {
      await waitFor(async () => (await service.epoch(last)).official != null, { timeoutMs: 10_000, what: `node${i + 1} adopts epoch ${last}` })
      for (const e of epochs) {
        const official = (await service.epoch(e)).official
        // a node that missed nothing holds the same record as the coordinator
        if (official != null) expect(official.submission.blockHash).toBe((await harness.coordinator.record(e))?.submission.blockHash)
      }
      const stats = service.memoryStats()
      // memory per epoch is bounded by a fixed window, not by the 15 epochs run
      expect(stats.delivered).toBeLessThanOrEqual(7)
      expect(stats.echoed).toBeLessThanOrEqual(7)
      expect(stats.pool.epochs).toBeLessThanOrEqual(7)
      // closed RBC rounds are forgotten: decided instances stay within the open window
      const machine = harness.cluster.node(i).engine.stats().machine
      expect(machine.decided).toBeLessThanOrEqual(4 * 13)
      expect(machine.open + machine.orphans).toBeLessThanOrEqual(8)
    }
  }, 60_000)

  it('a node restarted mid-run rejoins: it runs and commits the next epochs itself, and nobody signs two reports for one epoch', async () => {
    harness = await start()
    const now = harness.coordinator.epochInfo().epoch
    await committed(harness, [now + 1, now + 2])
    await harness.cluster.stopNode(2)
    await committed(harness, [now + 4])
    await harness.cluster.startNode(2)
    const back = harness.coordinator.epochInfo().epoch + 1
    await committed(harness, [back + 1, back + 2])
    const service = harness.services.get(2)!
    await waitFor(async () => (await service.epoch(back + 2)).official != null, { timeoutMs: 10_000, what: 'node3 adopts a later epoch' })
    // it ran the epochs after its return itself: computed and signed its report, and committed
    for (const e of [back + 1, back + 2]) {
      const { progress, official } = await service.epoch(e)
      expect(progress?.state).toBe('committed')
      expect(progress?.ownReport).toMatch(/^[0-9a-f]{64}$/)
      expect(official?.submission.blockHash).toBe((await harness.coordinator.record(e))?.submission.blockHash)
    }
    // no equivocation evidence anywhere: nobody signed two reports for one epoch
    for (const s of harness.services.values()) expect(await s.evidence()).toEqual([])
  }, 60_000)
})
