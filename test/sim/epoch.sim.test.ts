import { describe, expect, it } from 'vitest'
import { thresholds } from '../../src/broadcast/machine.js'
import { runEpochs, type Design, type EpochSimOptions, type EpochSimResult } from './epoch-sim.js'
import { EventQueue, SimNetwork, type NetworkModel } from './net-model.js'
import { Rng } from './rbc-sim.js'
import { FIXED_COSTS, type CostModel } from './sim-costs.js'

const LOOPBACK: NetworkModel = { name: 'loopback', latencyMs: 0.2, jitter: 0.1, uplinkMbit: 10_000, chunkBytes: 16 * 1024 }
const WAN: NetworkModel = { name: 'WAN', latencyMs: 20, jitter: 0.2, uplinkMbit: 100, chunkBytes: 16 * 1024 }
const ZERO_COSTS: CostModel = { verifyUs: 0, signUs: 0, reportCheckUs: 0, blockCheckUs: 0, blockHashUs: 0, blockReports: 1, rbcStepUs: 0, persistUs: 0 }

const run = (n: number, design: Design, extra: Partial<EpochSimOptions> = {}): EpochSimResult[] =>
  runEpochs({ n, mixnodes: 100, design, network: LOOPBACK, costs: FIXED_COSTS, epochMs: 10_000, epochs: 2, seed: 42, ...extra })

/** RBC messages of one instance in which every one of `live` nodes echoes and readies once: PROPOSE + ECHO + READY to each other live node. */
const oneInstance = (live: number): number => (live - 1) * (2 * live + 1)

describe('the simulated network', () => {
  const collect = (model: NetworkModel, n: number): { net: SimNetwork<string>, q: EventQueue, got: Array<{ from: number, to: number, m: string, at: number }> } => {
    const q = new EventQueue()
    const got: Array<{ from: number, to: number, m: string, at: number }> = []
    const net = new SimNetwork<string>(n, model, new Rng(1), q, (from, to, m, at) => { got.push({ from, to, m, at }) })
    return { net, q, got }
  }

  it('a message takes its serialisation on the uplink plus the link latency', () => {
    const { net, q, got } = collect({ name: 't', latencyMs: 5, jitter: 0, uplinkMbit: 8, chunkBytes: 1_000 }, 2)
    net.send(0, 1, 'a', 10_000) // 10 kB at 8 Mbit/s = 10 ms
    q.run()
    expect(got).toHaveLength(1)
    expect(got[0]?.at).toBeCloseTo(15, 9)
  })

  it('the uplink shares its bandwidth: a block to three peers arrives together, a vote sent after it is not stuck behind it', () => {
    const { net, q, got } = collect({ name: 't', latencyMs: 1, jitter: 0, uplinkMbit: 8, chunkBytes: 1_000 }, 4)
    for (const to of [1, 2, 3]) net.send(0, to, 'block', 100_000) // 100 ms each alone, 300 ms together
    q.at(10, () => { net.send(0, 1, 'vote', 100) })
    q.run()
    const at = (m: string, to: number): number => got.find((g) => g.m === m && g.to === to)?.at as number
    const blocks = [1, 2, 3].map((to) => at('block', to))
    expect(Math.min(...blocks)).toBeGreaterThanOrEqual(301.1 - 4) // within a few chunks of each other
    expect(Math.max(...blocks)).toBeCloseTo(301.1, 9) // 300,100 bytes at 1 byte/µs, then 1 ms
    // the vote took its turn among the blocks' chunks: the chunk being sent, one of each block, then the link
    expect(at('vote', 1)).toBeLessThanOrEqual(10 + 1 + 3 + 0.1 + 1)
    expect(got).toHaveLength(4)
  })

  it('a link never reorders, and jitter varies the latency within its bound', () => {
    const dense = collect({ name: 't', latencyMs: 10, jitter: 1, uplinkMbit: 1_000, chunkBytes: 16_384 }, 2)
    for (let i = 0; i < 200; i++) dense.q.at(i * 0.01, () => { dense.net.send(0, 1, String(i), 100) })
    dense.q.run()
    expect(dense.got.map((g) => Number(g.m))).toEqual(Array.from({ length: 200 }, (_, i) => i))
    const sparse = collect({ name: 't', latencyMs: 10, jitter: 1, uplinkMbit: 1_000, chunkBytes: 16_384 }, 2)
    for (let i = 0; i < 50; i++) sparse.q.at(i * 25, () => { sparse.net.send(0, 1, String(i), 125) }) // 1 µs on the uplink
    sparse.q.run()
    const delays = sparse.got.map((g) => g.at - Number(g.m) * 25 - 0.001)
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(10 - 1e-9)
    expect(Math.max(...delays)).toBeLessThan(20)
    expect(new Set(delays.map((d) => d.toFixed(3))).size).toBeGreaterThan(40)
  })

  it('the event queue runs by time, then in the order scheduled, and refuses the past', () => {
    const q = new EventQueue()
    const order: string[] = []
    q.at(2, () => { order.push('b') })
    q.at(1, () => { order.push('a'); q.at(2, () => { order.push('c') }) })
    q.at(2, () => { order.push('b2') })
    q.run()
    expect(order).toEqual(['a', 'b', 'b2', 'c'])
    expect(() => { q.at(1, () => {}) }).toThrow(/before now/)
  })
})

describe('ours: one block per epoch with an active leader, within 4N² RBC messages', () => {
  for (const [n, model] of [[4, LOOPBACK], [7, LOOPBACK], [10, LOOPBACK], [25, LOOPBACK], [10, WAN], [25, WAN]] as const) {
    it(`N=${n} ${model.name}`, () => {
      for (const r of run(n, 'ours', { network: model })) {
        expect(r.problems).toEqual([])
        expect(r.proposals).toBe(1)
        expect(r.rbc.total.messages).toBe(oneInstance(n))
        expect(r.rbc.total.messages).toBeLessThanOrEqual(4 * n * n)
        expect(r.rbc.fetch.messages).toBe(0)
        expect(r.reports.messages).toBe(n * (n - 1))
        // every node delivered the one block: first ≤ quorum ≤ all, all defined
        expect(r.firstMs).toBeGreaterThan(0)
        expect(r.readyMs).toBeGreaterThanOrEqual(r.quorumMs as number)
        expect(r.quorumMs).toBeGreaterThanOrEqual(r.firstMs as number)
        expect(r.drainMs).toBe(r.readyMs)
      }
    })
  }
})

describe('all-propose: N instances, ~2N³ RBC messages', () => {
  for (const n of [4, 7, 10, 25]) {
    it(`N=${n}`, () => {
      const [all, ours] = [run(n, 'all-propose'), run(n, 'ours')]
      for (const [i, r] of all.entries()) {
        expect(r.problems).toEqual([])
        expect(r.proposals).toBe(n)
        expect(r.rbc.total.messages).toBe(n * oneInstance(n))
        expect(r.rbc.total.messages).toBe(n * (ours[i]?.rbc.total.messages as number))
        expect(r.drainMs).toBeGreaterThanOrEqual(r.readyMs as number)
        // the same network and costs: N times the work costs time
        expect(r.readyMs).toBeGreaterThan(ours[i]?.readyMs as number)
      }
      if (n > 4) expect(all[0]?.rbc.total.messages).toBeGreaterThan(4 * n * n)
    })
  }
})

describe('the model', () => {
  it('without costs, jitter or bandwidth limits an epoch takes four hops: report, PROPOSE, ECHO, READY', () => {
    const ideal: NetworkModel = { name: 'ideal', latencyMs: 10, jitter: 0, uplinkMbit: 1e9, chunkBytes: 1e9 }
    for (const design of ['ours', 'all-propose'] as const) {
      for (const r of run(7, design, { network: ideal, costs: ZERO_COSTS, epochs: 1 })) {
        expect(r.firstMs).toBeCloseTo(40, 3)
        expect(r.readyMs).toBeCloseTo(40, 3)
      }
    }
  })

  it('is deterministic for a seed, and another seed gives another run', () => {
    const a = run(10, 'ours', { network: WAN })
    const b = run(10, 'ours', { network: WAN })
    expect(b).toEqual(a)
    const c = run(10, 'ours', { network: WAN, seed: 43 })
    expect(c.map((r) => r.log)).not.toEqual(a.map((r) => r.log))
  })

  it('real Ed25519 in the machines gives the same run as the stand-in signatures', () => {
    for (const design of ['ours', 'all-propose'] as const) {
      const modelled = run(7, design, { network: WAN })
      const real = run(7, design, { network: WAN, crypto: 'real' })
      expect(real).toEqual(modelled)
    }
  })
})

describe('ours with the leader down', () => {
  for (const n of [4, 7, 25]) {
    it(`N=${n}: rank 1 proposes after the stagger and every live node delivers`, () => {
      const { q } = thresholds(n)
      for (const r of run(n, 'ours', { leaderDown: true, epochs: 3 })) {
        expect(r.problems).toEqual([])
        expect(r.live).toBe(n - 1)
        expect(r.live).toBeGreaterThanOrEqual(q)
        expect(r.proposals).toBe(1)
        expect(r.rbc.total.messages).toBe(oneInstance(n - 1))
        expect(r.readyMs).toBeGreaterThanOrEqual(1_000) // δ = 10 % of the 10 s epoch
        expect(r.readyMs).toBeLessThan(1_200)
      }
    })
  }
})

describe('ours with a late leader', () => {
  it('N=10: a leader whose report arrived is waited for, one block per epoch', () => {
    // its block 3 s late: past ranks 1 and 2 (δ = 1 s), within the quarter of the 30 s epoch
    // deadline given to a leader known to be alive
    for (const r of run(10, 'ours', { leaderLate: { reportMs: 0, proposeMs: 3_000 }, epochs: 3 })) {
      expect(r.problems).toEqual([])
      expect(r.proposals).toBe(1)
      expect(r.firstMs).toBeGreaterThanOrEqual(3_000)
    }
  })

  it('N=10: a leader silent for 2.5 s is replaced once, and its late block widens δ so later epochs carry one block', () => {
    const results = run(10, 'ours', { leaderLate: { reportMs: 2_500, proposeMs: 2_500 }, epochs: 4 })
    const [first, ...later] = results as [EpochSimResult, ...EpochSimResult[]]
    expect(first.problems).toEqual([])
    // rank 1 after δ = 1 s, the leader's own block at 2.5 s; both are certified everywhere
    expect(first.proposals).toBe(2)
    expect(first.staggerMs).toBe(1_000)
    for (const r of later) {
      expect(r.problems).toEqual([])
      expect(r.staggerMs).toBeGreaterThanOrEqual(1.5 * 2_500)
      expect(r.proposals).toBe(1)
    }
  })
})
