/**
 * Seeded simulation of Bracha reliable broadcast (see rbc-sim.ts). Each test name carries n, the
 * seed and the Byzantine behaviours; replay one run with
 *   npx vitest run test/sim -t "n=7 seed=13 "
 * (a run depends only on those, so a failure reproduces exactly).
 */
import { describe, expect, it } from 'vitest'
import { thresholds } from '../../src/broadcast/machine.js'
import { fromHex } from '../../src/codec/bytes.js'
import { certificateProblem } from '../helpers/rbc-fixtures.js'
import { mulberry32, runSim, type Behaviour, type CrashMode, type SimResult, type SimStats } from './rbc-sim.js'

const BEHAVIOURS: Behaviour[] = ['equivocate', 'forge', 'unknown-hash', 'silent']
const SEEDS = 20

/** Every 5th seed: all honest; otherwise 1..f Byzantine nodes, behaviours rotating with the seed. */
function behavioursFor (n: number, seed: number): Behaviour[] {
  const { f } = thresholds(n)
  if (seed % 5 === 0) return []
  const count = 1 + (seed % f)
  return Array.from({ length: count }, (_, j) => BEHAVIOURS[(seed + j) % BEHAVIOURS.length] as Behaviour)
}

const instKey = (round: number, creator: number): string => `${round}/${creator}`

/** (a) agreement, (c) certificates, (d) one READY hash per node and instance, integrity, plus the invariants checked during the run. */
function safetyProblems (r: SimResult): string[] {
  const out = [...r.violations]
  if (!r.drained) out.push('the network did not drain')
  const honest = new Set(r.honest)
  const proposed = new Map(r.instances.map((i) => [instKey(i.round, i.creator), i]))
  const delivered = new Map<string, Set<string>>()
  const once = new Set<string>()
  for (const d of r.deliveries) {
    const k = instKey(d.round, d.creator)
    if (!honest.has(d.node)) out.push(`Byzantine node ${d.node} has a delivery`)
    delivered.set(k, (delivered.get(k) ?? new Set()).add(d.hash))
    const id = `${d.node}.${d.incarnation}@${k}`
    if (once.has(id)) out.push(`node ${d.node} (incarnation ${d.incarnation}) delivered ${k} twice`)
    once.add(id)
    const info = proposed.get(k)
    if (info == null || !info.hashes.includes(d.hash)) out.push(`node ${d.node} delivered ${k} ${d.hash.slice(0, 8)}, which was never proposed`)
    const problem = certificateProblem(d.round, r.members[d.creator] as Uint8Array, fromHex(d.hash, 32) as Uint8Array, d.signatures, r.members, r.q)
    if (problem != null) out.push(`node ${d.node} delivery of ${k}: ${problem}`)
  }
  for (const [k, hashes] of delivered) if (hashes.size > 1) out.push(`agreement: ${k} delivered with ${hashes.size} different hashes`)
  for (const [id, hashes] of r.readyHashes) if (hashes.size > 1) out.push(`node/instance ${id} sent READY for ${hashes.size} hashes`)
  for (const [id, hashes] of r.echoHashes) if (hashes.size > 1) out.push(`node/instance ${id} sent ECHO for ${hashes.size} hashes`)
  return out
}

/** (b) every honest node delivers every honest creator's block; totality for the equivocators' instances. */
function livenessProblems (r: SimResult): string[] {
  const out: string[] = []
  for (const inst of r.instances) {
    const k = instKey(inst.round, inst.creator)
    const nodes = new Set(r.deliveries.filter((d) => instKey(d.round, d.creator) === k).map((d) => d.node))
    const missing = r.honest.filter((h) => !nodes.has(h))
    if (inst.honest && missing.length > 0) out.push(`honest instance ${k}: nodes ${missing.join(',')} did not deliver`)
    if (!inst.honest && nodes.size > 0 && missing.length > 0) out.push(`equivocated instance ${k}: delivered by ${[...nodes].join(',')} but not by ${missing.join(',')}`)
  }
  return out
}

const totals: SimStats & { runs: number, equivocatedDelivered: number, equivocatedSilent: number, crashes: number } = {
  runs: 0, steps: 0, received: 0, duplicates: 0, delays: 0, forged: 0, forgedIgnored: 0, rejects: 0, fetches: 0, fetchesAnswered: 0, fetchesUnanswered: 0, junkBlocks: 0, equivocations: 0, equivocatedDelivered: 0, equivocatedSilent: 0, crashes: 0
}
function tally (r: SimResult): void {
  totals.runs++
  for (const k of Object.keys(r.stats) as Array<keyof SimStats>) totals[k] += r.stats[k]
  for (const inst of r.instances.filter((i) => !i.honest)) {
    if (r.deliveries.some((d) => d.round === inst.round && d.creator === inst.creator)) totals.equivocatedDelivered++
    else totals.equivocatedSilent++
  }
  if (r.crash != null) totals.crashes++
}

describe('mulberry32', () => {
  it('is deterministic per seed and roughly uniform', () => {
    const a = mulberry32(42)
    const b = mulberry32(42)
    const xs = Array.from({ length: 10_000 }, () => a())
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs)
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02)
    expect(mulberry32(43)()).not.toBe(mulberry32(42)())
  })
})

for (const n of [4, 7, 10]) {
  describe(`simulation n = ${n}`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const byzantine = behavioursFor(n, seed)
      it(`n=${n} seed=${seed} byzantine=[${byzantine.join(',')}]`, () => {
        const r = runSim({ n, seed, byzantine })
        tally(r)
        expect(safetyProblems(r)).toEqual([])
        expect(livenessProblems(r)).toEqual([])
        // (e) determinism: the same seed replays the same run
        expect(runSim({ n, seed, byzantine }).log).toBe(r.log)
      })
    }
  })
}

describe('crash-restart of an honest node mid-run', () => {
  const cases: Array<[number, number, CrashMode]> = []
  for (const n of [4, 7, 10]) for (const seed of [101, 102, 103]) for (const mode of ['missed', 'all'] as const) cases.push([n, seed, mode])
  for (const [n, seed, mode] of cases) {
    const byzantine = behavioursFor(n, seed)
    it(`n=${n} seed=${seed} crash=${mode} byzantine=[${byzantine.join(',')}]`, () => {
      const r = runSim({ n, seed, byzantine, crash: mode })
      tally(r)
      expect(r.crash).toBeDefined()
      expect(r.crash?.resent).toBeGreaterThan(0)
      expect(r.crash?.persistedVotes).toBeGreaterThan(0) // it restarts from votes it had persisted
      // safety holds across the restart: (a) agreement and (d) no READY for two hashes (over both incarnations)
      expect(safetyProblems(r)).toEqual([])
      // with everything re-sent to it, the restarted node catches up and nothing is lost
      if (mode === 'all') expect(livenessProblems(r)).toEqual([])
      expect(runSim({ n, seed, byzantine, crash: mode }).log).toBe(r.log)
    })
  }
})

describe('the harness', () => {
  it('exercised reordering, duplicates, delays, forgeries, fetches, junk blocks and equivocation', () => {
    expect(totals.runs).toBe(3 * SEEDS + 18)
    for (const k of ['duplicates', 'delays', 'forged', 'rejects', 'fetches', 'fetchesAnswered', 'junkBlocks', 'equivocations'] as const) {
      expect(totals[k], k).toBeGreaterThan(0)
    }
    // every forged message was rejected (or ignored unread, its instance settled), nothing else was
    expect(totals.rejects).toBe(totals.forged - totals.forgedIgnored)
    // equivocated instances: some were certified (so agreement/totality were tested on them), some stalled
    expect(totals.equivocatedDelivered).toBeGreaterThan(0)
    expect(totals.equivocatedSilent).toBeGreaterThan(0)
    expect(totals.crashes).toBe(18)
  })

  it('different seeds give different schedules', () => {
    expect(runSim({ n: 4, seed: 1, byzantine: [] }).log).not.toBe(runSim({ n: 4, seed: 2, byzantine: [] }).log)
  })

  it('the property checks catch planted violations', () => {
    const r = runSim({ n: 4, seed: 5, byzantine: [] })
    expect(safetyProblems(r)).toEqual([])
    const [first, second] = r.deliveries.filter((d) => d.round === 1 && d.creator === r.deliveries[0]?.creator)
    expect(first).toBeDefined()
    expect(second).toBeDefined()
    if (first == null || second == null) return
    // a different hash for one delivery: agreement, integrity and the certificate all break
    const forked = { ...r, deliveries: r.deliveries.map((d) => d === second ? { ...d, hash: 'ab'.repeat(32) } : d) }
    expect(safetyProblems(forked).join('\n')).toMatch(/agreement/)
    // a certificate short of q, or with a signature repeated
    const short = { ...r, deliveries: r.deliveries.map((d) => d === first ? { ...d, signatures: d.signatures.slice(0, r.q - 1) } : d) }
    expect(safetyProblems(short).join('\n')).toMatch(/q = 3/)
    const doubled = { ...r, deliveries: r.deliveries.map((d) => d === first ? { ...d, signatures: [d.signatures[0], ...d.signatures.slice(0, -1)] as typeof d.signatures } : d) }
    expect(safetyProblems(doubled).join('\n')).toMatch(/twice/)
    // a node READY for two hashes
    const readyHashes = new Map(r.readyHashes)
    readyHashes.set('0/1/0', new Set(['aa', 'bb']))
    expect(safetyProblems({ ...r, readyHashes }).join('\n')).toMatch(/READY for 2 hashes/)
    // a missing delivery
    expect(livenessProblems({ ...r, deliveries: r.deliveries.filter((d) => d !== first) }).join('\n')).toMatch(/did not deliver/)
  })
})
