import { describe, expect, it } from 'vitest'
import { CONSENSUS_HOPS, STANDALONE_HOPS, floorModel, hopCount } from '../../../scripts/bench/floor-model.mjs'

/** The bench's floor model (scripts/bench/floor-model.mjs): arithmetic over measured constants. */
describe('bench floor model', () => {
  const work = {
    node: { average: 1, report: 2, checks: 7 }, // 10 ms per node
    once: { propose: 3 },
    coordinator: { requests: 4, chunks: 16 }, // 20 ms
    sync: { report: 0.5, vote: 1.5, delivery: 2 } // 4 ms in sequence
  }

  it('counts the hops of an epoch from the protocol: 10 for consensus, 3 standalone', () => {
    expect(hopCount(CONSENSUS_HOPS)).toBe(10)
    expect(hopCount(STANDALONE_HOPS)).toBe(3)
    expect(CONSENSUS_HOPS.map((h) => h.step).slice(0, 4)).toEqual(['report gossip (each report reaches the others)', 'PROPOSE', 'ECHO', 'READY'])
  })

  it('spreads N nodes\' work, the proposer\'s and the coordinator\'s over min(cores, N + 1), then adds synced writes and hops', () => {
    const f = floorModel({ mode: 'consensus', nodes: 10, cores: 2, oneWayMs: 0.05, work })
    // 10 × 10 + 3 + 20 = 123 ms of work on 2 cores
    expect(f.cpuMs).toBe(123)
    expect(f.parallelism).toBe(2)
    expect(f.spreadMs).toBe(61.5)
    expect(f.syncMs).toBe(4)
    expect(f.hops).toBe(10)
    expect(f.hopsMs).toBe(0.5)
    expect(f.floorMs).toBe(66)
    expect(f.perNodeMs).toBe(10)
    expect(f.onceMs).toBe(3)
    expect(f.coordinatorMs).toBe(20)
  })

  it('grows with N: every node adds its work', () => {
    const floors = [4, 7, 10, 16, 25].map((nodes) => floorModel({ mode: 'consensus', nodes, cores: 2, oneWayMs: 0.05, work }).floorMs)
    for (let i = 1; i < floors.length; i++) expect(floors[i]).toBeGreaterThan(floors[i - 1] as number)
  })

  it('uses no more cores than there are processes', () => {
    const f = floorModel({ mode: 'consensus', nodes: 2, cores: 16, oneWayMs: 0, work })
    expect(f.parallelism).toBe(3)
  })

  it('never spreads below what one process must do alone: a process runs on one core', () => {
    const heavyCoordinator = { ...work, coordinator: { chunks: 200 } }
    const f = floorModel({ mode: 'consensus', nodes: 4, cores: 2, oneWayMs: 0, work: heavyCoordinator })
    // (4 × 10 + 3 + 200) / 2 = 121.5 < 200
    expect(f.spreadMs).toBe(200)
    const oneNode = floorModel({ mode: 'consensus', nodes: 1, cores: 8, oneWayMs: 0, work: { node: { all: 50 }, once: { p: 10 }, coordinator: { c: 1 }, sync: {} } })
    expect(oneNode.spreadMs).toBe(60)
  })

  it('does the standalone baseline in sequence: one node, no spreading, 3 hops', () => {
    const f = floorModel({ mode: 'standalone', nodes: 1, cores: 2, oneWayMs: 0.1, work: { node: { a: 3 }, coordinator: { b: 2 }, sync: { c: 1 } } })
    expect(f.parallelism).toBe(1)
    expect(f.spreadMs).toBe(5)
    expect(f.floorMs).toBe(6.3)
  })

  it('refuses impossible constants', () => {
    expect(() => floorModel({ mode: 'consensus', nodes: 4, cores: 0, oneWayMs: 0.1, work })).toThrow(RangeError)
    expect(() => floorModel({ mode: 'consensus', nodes: 4, cores: 2, oneWayMs: -1, work })).toThrow(RangeError)
  })
})
