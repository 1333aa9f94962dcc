import { afterEach, describe, expect, it } from 'vitest'
import { messageId } from '../../src/block/encoding.js'
import { toHex } from '../../src/codec/bytes.js'
import { NodeKey } from '../../src/crypto/keys.js'
import { BlockProducer } from '../../src/broadcast/index.js'
import { clientMessage, EngineCluster } from '../helpers/engine-cluster.js'
import { waitFor } from '../helpers/env.js'

/**
 * The broadcast engine in process: N engines with real level databases over an in-memory network.
 * These run the glue (engine, transport, delivery, producer) the way a node does, minus libp2p.
 */

const client = NodeKey.fromSeed(new Uint8Array(32).fill(0xc1))
let cluster: EngineCluster | undefined

afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
})

/** Every creator proposes `rounds` blocks of one message each, one after the other, and all nodes deliver them. */
async function history (c: EngineCluster, rounds: number): Promise<void> {
  const n = c.keys.length
  for (let r = 0; r < rounds; r++) {
    await Promise.all(c.keys.map(async (_, i) => {
      const engine = c.node(i).engine
      await engine.proposeBlock({ messages: [clientMessage(client, 'history')] })
    }))
    const target = (r + 1) * n
    await waitFor(() => c.nodes.every((node) => node != null && node.engine.store.lastHeight >= target), { timeoutMs: 20_000, what: `round ${r + 1} delivered everywhere` })
  }
}

describe('restart after a long history', () => {
  it('a whole-cluster restart after 100 rounds per creator: every creator\'s next block is certified, and what is held does not grow with history', async () => {
    cluster = new EngineCluster(4, { options: { limits: { decidedWindow: 32 } } })
    await cluster.start()
    await history(cluster, 100)
    const before = cluster.node(0).engine.stats()
    // bounded while running: decided instances trail by the window; nothing open
    expect(before.machine.decided).toBeLessThanOrEqual(4 * 32)
    expect(before.openInstances).toBe(0)

    for (let i = 0; i < 4; i++) await cluster.stopNode(i)
    for (let i = 0; i < 4; i++) await cluster.startNode(i)
    for (let i = 0; i < 4; i++) {
      const stats = cluster.node(i).engine.stats()
      // what a restart loads: at most the window per creator, never the history
      expect(stats.machine.decided).toBeLessThanOrEqual(4 * 32)
      expect(stats.openInstances).toBe(0)
    }
    // every creator's next block is certified and delivered by every node
    const next = await Promise.all(cluster.keys.map(async (_, i) => await cluster!.node(i).engine.proposeBlock({ messages: [clientMessage(client, "after restart")] })))
    await waitFor(() => cluster!.nodes.every((node) => node != null && node.engine.store.lastHeight >= 101 * 4), { timeoutMs: 20_000, what: 'the next block of every creator delivered everywhere' })
    for (const p of next) expect(p.round).toBe(101)
    for (let i = 0; i < 4; i++) expect(cluster.node(i).log.lines.filter((l) => String(l.msg).includes('undelivered proposals'))).toEqual([])
  }, 120_000)
})

describe('messages: at least once, deterministic location', () => {
  it('with a member down, messages designated to it are still included (at least once), and every node names the same blocks and the same canonical one', async () => {
    cluster = new EngineCluster(4, { producer: { intervalMs: 50, designatedFallbackMs: 300 } })
    await cluster.start()
    await cluster.stopNode(3)
    const ids: string[] = []
    for (let i = 0; i < 24; i++) {
      const m = clientMessage(client, 'degraded')
      const res = await cluster.node(i % 3).engine.submitMessage(m)
      ids.push(res.id)
      expect(res.id).toBe(toHex(messageId(m)))
    }
    const live = [0, 1, 2]
    const locations = await waitFor(async () => {
      const all = await Promise.all(ids.map(async (id) => await Promise.all(live.map(async (i) => await cluster!.node(i).engine.store.messageLocations(id, 16)))))
      // delivered everywhere and every node holds the same set of blocks for it
      return all.every((perNode) => perNode.every((l) => l.length > 0 && JSON.stringify(l) === JSON.stringify(perNode[0]))) ? all : undefined
    }, { timeoutMs: 20_000, what: 'every message delivered on the 3 live nodes with the same locations' })
    for (const perNode of locations) {
      const canonical = perNode.map((l) => l[0]?.block)
      expect(new Set(canonical).size).toBe(1)
    }
  }, 60_000)

  it('the rank stagger, on a controlled clock: with the designated member down, only the next member in rank includes the message, once', async () => {
    cluster = new EngineCluster(4)
    await cluster.start()
    await cluster.stopNode(3)
    const live = [0, 1, 2]
    const fallbackMs = 1_000
    let now = 0
    // interval far beyond the test: the producers only run when the test ticks them
    const producers = live.map((i) => new BlockProducer({ intervalMs: 3_600_000, maxMessages: 500, designatedFallbackMs: fallbackMs }, { engine: cluster!.node(i).engine, logger: cluster!.node(i).log.logger, now: () => now }))
    for (const p of producers) p.start()
    try {
      // a message whose designated member is the one that is down (no live member has rank 0)
      let m = clientMessage(client, 'stagger')
      while (producers.some((p) => p.rank(toHex(messageId(m))) === 0)) m = clientMessage(client, 'stagger')
      const id = toHex(messageId(m))
      await cluster.node(0).engine.submitMessage(m)
      await waitFor(() => live.every((i) => cluster!.node(i).engine.mempool.has(id)), { timeoutMs: 10_000, what: 'the message in every live mempool' })
      now = Math.max(...live.map((i) => cluster!.node(i).engine.mempool.peek(1, () => true)[0]?.receivedAt ?? 0))

      // before the first fallback nobody includes it
      expect(await Promise.all(producers.map(async (p) => await p.tick()))).toEqual([undefined, undefined, undefined])
      // after one fallback period exactly the rank-1 member does
      now += fallbackMs
      const proposed = await Promise.all(producers.map(async (p) => await p.tick()))
      const includers = live.filter((_, k) => proposed[k] != null)
      expect(includers).toEqual(live.filter((_, k) => producers[k]!.rank(id) === 1))
      await waitFor(() => live.every((i) => !cluster!.node(i).engine.mempool.has(id)), { timeoutMs: 10_000, what: 'the message delivered and out of every mempool' })
      // once delivered, later fallbacks include nothing more
      now += 4 * fallbackMs
      expect(await Promise.all(producers.map(async (p) => await p.tick()))).toEqual([undefined, undefined, undefined])
      const locations = await Promise.all(live.map(async (i) => await cluster!.node(i).engine.store.messageLocations(id, 16)))
      for (const l of locations) expect(l.map((x) => x.block)).toEqual([proposed.find((h) => h != null)])
    } finally {
      for (const p of producers) p.stop()
    }
  }, 60_000)
})
