import { describe, expect, it } from 'vitest'
import { defaultMeshTimeoutMs, MeshProgress } from '../../../src/cluster/mesh-progress.js'

/**
 * `cluster up`'s view of a forming mesh: the latest answer of each node, kept while the node is
 * too busy to answer a poll, and complete only when every node's latest answer (fresh enough)
 * says it is connected to all the others.
 */

const FRESH = 10_000

describe('MeshProgress', () => {
  it('is complete only once every node has said it is connected to all the others', () => {
    const p = new MeshProgress(['node1', 'node2', 'node3'], { freshMs: FRESH })
    expect(p.complete(0)).toBe(false)
    expect(p.line(0)).toBe('node1 starting, node2 starting, node3 starting')
    p.record('node1', { kind: 'answer', connected: 2 }, 100)
    p.record('node2', { kind: 'answer', connected: 1 }, 100)
    p.record('node3', { kind: 'silent' }, 100)
    expect(p.complete(100)).toBe(false)
    expect(p.line(100)).toBe('node1 2/2, node2 1/2, node3 starting')
    p.record('node2', { kind: 'answer', connected: 2 }, 200)
    p.record('node3', { kind: 'answer', connected: 2 }, 200)
    expect(p.complete(200)).toBe(true)
    expect(p.line(200)).toBe('node1 2/2, node2 2/2, node3 2/2')
  })

  it('keeps the latest answer of a node that misses a poll, marked slow, for freshMs', () => {
    const p = new MeshProgress(['node1', 'node2'], { freshMs: FRESH })
    p.record('node1', { kind: 'answer', connected: 1 }, 1_000)
    p.record('node2', { kind: 'answer', connected: 1 }, 1_000)
    // node2 misses the next poll (busy): still counted, shown as slow
    p.record('node1', { kind: 'answer', connected: 1 }, 2_000)
    p.record('node2', { kind: 'silent' }, 2_000)
    expect(p.complete(2_000)).toBe(true)
    expect(p.line(2_000)).toBe('node1 1/1, node2 1/1 (slow)')
    // its answer ages out: no longer counted
    expect(p.complete(1_000 + FRESH)).toBe(true)
    expect(p.complete(1_000 + FRESH + 1)).toBe(false)
    // it answers again
    p.record('node2', { kind: 'answer', connected: 1 }, 12_000)
    expect(p.complete(12_000)).toBe(true)
    expect(p.line(12_000)).toBe('node1 1/1, node2 1/1')
    // node1's answer of 2 s is now too old: slow, and the mesh is not complete
    expect(p.complete(12_001)).toBe(false)
    expect(p.line(12_001)).toBe('node1 1/1 (slow), node2 1/1')
  })

  it('a node that is down is never counted, whatever it said before', () => {
    const p = new MeshProgress(['node1', 'node2'], { freshMs: FRESH })
    p.record('node1', { kind: 'answer', connected: 1 }, 0)
    p.record('node2', { kind: 'answer', connected: 1 }, 0)
    p.record('node2', { kind: 'down', text: 'down (exit code 1)' }, 10)
    expect(p.complete(10)).toBe(false)
    expect(p.line(10)).toBe('node1 1/1, node2 down (exit code 1)')
    // a silent poll after it died does not bring the old answer back
    p.record('node2', { kind: 'silent' }, 20)
    expect(p.complete(20)).toBe(false)
    expect(p.line(20)).toBe('node1 1/1, node2 starting')
  })

  it('beyond 8 nodes: counts, links and the nodes behind (at most 6 named)', () => {
    const names = Array.from({ length: 25 }, (_, i) => `node${i + 1}`)
    const p = new MeshProgress(names, { freshMs: FRESH })
    names.forEach((name, i) => {
      if (i < 15) p.record(name, { kind: 'answer', connected: 24 }, 0)
      else if (i < 18) p.record(name, { kind: 'answer', connected: 20 }, 0)
      else p.record(name, { kind: 'silent' }, 0)
    })
    expect(p.complete(0)).toBe(false)
    expect(p.line(0)).toBe('18/25 answering, 15/25 connected to all 24, links 420/600; behind: node16 20/24, node17 20/24, node18 20/24, node19 starting, node20 starting, node21 starting, 4 more')
    names.forEach((name) => { p.record(name, { kind: 'answer', connected: 24 }, 1) })
    expect(p.complete(1)).toBe(true)
    expect(p.line(1)).toBe('25/25 answering, 25/25 connected to all 24, links 600/600')
  })

  it('refuses a name that is not a node of the cluster', () => {
    const p = new MeshProgress(['node1'], { freshMs: FRESH })
    expect(() => { p.record('node9', { kind: 'silent' }, 0) }).toThrow(/not a node of this cluster: node9/)
  })
})

describe('the default mesh deadline', () => {
  it('is 60 s up to 10 nodes, then 6 s per node', () => {
    expect(defaultMeshTimeoutMs(1)).toBe(60_000)
    expect(defaultMeshTimeoutMs(4)).toBe(60_000)
    expect(defaultMeshTimeoutMs(10)).toBe(60_000)
    expect(defaultMeshTimeoutMs(16)).toBe(96_000)
    expect(defaultMeshTimeoutMs(25)).toBe(150_000)
  })
})
