import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readySigningBytes } from '../../../src/block/encoding.js'
import type { Block } from '../../../src/block/types.js'
import { RbcMachine, thresholds, type Effect, type RbcMessage } from '../../../src/broadcast/machine.js'
import { equalBytes, toHex } from '../../../src/codec/bytes.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import {
  canon, certificateProblem, echoBroadcasts, echoMsg, makeBlock, newMachine, ofType, proposal, rbcCrypto, readyBroadcasts, readyMsg,
  testKey, testKeys, type SignedProposal
} from '../../helpers/rbc-fixtures.js'

const NS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
const hex = toHex

/** Every READY/ECHO broadcast in `effects` must follow a persist-vote of the same vote (in `durable` or earlier in the list). */
function persistBeforeBroadcast (effects: readonly Effect[], durable: Set<string>): string | undefined {
  for (const e of effects) {
    if (e.type === 'persist-vote') durable.add(`${e.vote.round}:${hex(e.vote.creator)}:${e.vote.kind}:${hex(e.vote.hash)}`)
    if (e.type === 'broadcast' && e.message.type !== 'propose') {
      const m = e.message
      const id = `${m.round}:${hex(m.creator)}:${m.type}:${hex(m.hash)}`
      if (!durable.has(id)) return `broadcast ${m.type} ${hex(m.hash).slice(0, 8)} before its persist-vote`
    }
  }
  return undefined
}

type Step = { kind: 'propose', p: SignedProposal } | { kind: 'recv', from: number, message: RbcMessage }

interface ClusterRun {
  machines: RbcMachine[]
  /** Per node: each step it took and the effects it returned. */
  log: Array<Array<{ step: Step, effects: Effect[] }>>
  problems: string[]
}

/**
 * All-honest cluster, every broadcast delivered to every other member. `schedule` picks the next
 * in-flight message (index modulo the queue length) and whether to keep a duplicate of it in
 * flight; once the schedule runs out, the queue drains in FIFO order.
 */
function runCluster (keys: NodeKey[], proposals: Array<{ creator: number, p: SignedProposal }>, schedule: ReadonlyArray<{ pick: number, dup: boolean }>): ClusterRun {
  const n = keys.length
  const machines = keys.map((_, i) => newMachine(keys, i))
  const log: ClusterRun['log'] = keys.map(() => [])
  const durable = keys.map(() => new Set<string>())
  const problems: string[] = []
  const queue: Array<{ from: number, to: number, message: RbcMessage }> = []
  const handle = (node: number, step: Step, effects: Effect[]): void => {
    log[node]?.push({ step, effects })
    const problem = persistBeforeBroadcast(effects, durable[node] as Set<string>)
    if (problem != null) problems.push(`node ${node}: ${problem}`)
    for (const e of effects) {
      if (e.type === 'broadcast') for (let to = 0; to < n; to++) if (to !== node) queue.push({ from: node, to, message: e.message })
    }
  }
  for (const { creator, p } of proposals) handle(creator, { kind: 'propose', p }, (machines[creator] as RbcMachine).propose(p.block, p.hash, p.signature))
  let i = 0
  while (queue.length > 0) {
    const choice = schedule[i++]
    const index = choice == null ? 0 : choice.pick % queue.length
    const item = queue[index] as (typeof queue)[number]
    if (choice?.dup !== true) queue.splice(index, 1)
    const from = keys[item.from] as NodeKey
    handle(item.to, { kind: 'recv', from: item.from, message: item.message }, (machines[item.to] as RbcMachine).receive(from.publicKey, item.message))
  }
  return { machines, log, problems }
}

const scheduleArb = fc.array(fc.record({ pick: fc.nat(), dup: fc.boolean() }), { maxLength: 500 })

/** Creators 0..k-1 propose; creators alternate between rounds 1 and 2 (two share round 1 when k ≥ 3). */
function clusterProposals (keys: NodeKey[], k: number): Array<{ creator: number, p: SignedProposal }> {
  return Array.from({ length: Math.min(k, keys.length) }, (_, c) => ({ creator: c, p: proposal(keys, keys[c] as NodeKey, 1 + (c % 2)) }))
}

describe('thresholds', () => {
  it.each([
    [1, 0, 1], [2, 0, 2], [3, 0, 3], [4, 1, 3], [5, 1, 4], [6, 1, 5], [7, 2, 5], [8, 2, 6], [9, 2, 7], [10, 3, 7]
  ])('n = %i → f = %i, q = %i', (n, f, q) => {
    expect(thresholds(n)).toEqual({ n, f, q })
  })

  it('n ≥ 3f + 1 and two quorums share at least f + 1 members (one honest) for n = 1..100', () => {
    for (let n = 1; n <= 100; n++) {
      const { f, q } = thresholds(n)
      expect(n).toBeGreaterThanOrEqual(3 * f + 1)
      expect(n).toBeLessThan(3 * (f + 1) + 1)
      expect(2 * q - n).toBeGreaterThanOrEqual(f + 1)
    }
  })

  it('the constructor refuses duplicate members and a self that is not a member', () => {
    const keys = testKeys(4)
    const crypto = rbcCrypto(keys[0] as NodeKey)
    expect(() => new RbcMachine({ members: [...keys.map((k) => k.publicKey), (keys[1] as NodeKey).publicKey], self: (keys[0] as NodeKey).publicKey, crypto })).toThrow(/duplicate/)
    expect(() => new RbcMachine({ members: keys.map((k) => k.publicKey), self: testKey(0, 1).publicKey, crypto })).toThrow(/not a member/)
  })
})

describe('agreement and validity (honest cluster, arbitrary order, duplicates)', () => {
  it('every node delivers every instance exactly once, with the proposed hash and a valid certificate', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 3 }), scheduleArb, (n, k, schedule) => {
      const keys = testKeys(n)
      const { q } = thresholds(n)
      const proposals = clusterProposals(keys, k)
      const run = runCluster(keys, proposals, schedule)
      expect(run.problems).toEqual([])
      for (let node = 0; node < n; node++) {
        const effects = (run.log[node] ?? []).flatMap((s) => s.effects)
        expect(ofType(effects, 'reject')).toEqual([])
        expect(ofType(effects, 'equivocation')).toEqual([])
        const delivers = ofType(effects, 'deliver')
        expect(delivers).toHaveLength(proposals.length)
        for (const { creator, p } of proposals) {
          const round = p.block.header.round
          const mine = delivers.filter((d) => d.block.header.round === round && equalBytes(d.block.header.creator, (keys[creator] as NodeKey).publicKey))
          expect(mine).toHaveLength(1)
          const d = mine[0] as (typeof mine)[number]
          expect(hex(d.hash)).toBe(hex(p.hash))
          expect(canon(d.block)).toEqual(canon(p.block))
          expect(certificateProblem(round, p.block.header.creator, d.hash, d.signatures, keys.map((x) => x.publicKey), q)).toBeUndefined()
          expect(hex((run.machines[node] as RbcMachine).delivered(round, p.block.header.creator) ?? new Uint8Array())).toBe(hex(p.hash))
          // each node signs at most one READY per instance, and exactly one here
          const readies = effects.flatMap((e) => e.type === 'broadcast' && e.message.type === 'ready' && e.message.round === round && equalBytes(e.message.creator, p.block.header.creator) ? [e.message] : [])
          expect(readies).toHaveLength(1)
        }
      }
    }), { numRuns: 100 })
  })
})

describe('idempotence', () => {
  it('receiving every message k times gives the effects of receiving it once; the copies give none', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 3 }), scheduleArb, fc.nat(), fc.integer({ min: 2, max: 4 }), fc.array(fc.nat({ max: 60 }), { minLength: 1 }),
      (n, k, schedule, targetSeed, copies, delays) => {
        const keys = testKeys(n)
        const target = targetSeed % n
        const reference = runCluster(keys, clusterProposals(keys, k), schedule).log[target] ?? []
        // replay: each received message again (copies − 1) times, each copy some steps after the original
        type Item = { order: number, ref?: number, step: Step }
        const items: Item[] = []
        let d = 0
        reference.forEach(({ step }, i) => {
          items.push({ order: i, ref: i, step })
          if (step.kind !== 'recv') return
          for (let c = 1; c < copies; c++) items.push({ order: i + (delays[d++ % delays.length] as number) + 0.5, step })
        })
        items.sort((a, b) => a.order - b.order)
        const m = newMachine(keys, target)
        let delivered = 0
        for (const item of items) {
          const effects = item.step.kind === 'propose'
            ? m.propose(item.step.p.block, item.step.p.hash, item.step.p.signature)
            : m.receive((keys[item.step.from] as NodeKey).publicKey, item.step.message)
          delivered += ofType(effects, 'deliver').length
          if (item.ref == null) expect(effects).toEqual([])
          else expect(canon(effects)).toEqual(canon(reference[item.ref]?.effects))
        }
        expect(delivered).toBe(Math.min(k, n))
      }), { numRuns: 80 })
  })
})

describe('delivery threshold', () => {
  it('n = 1: the creator delivers its own block at once with its own READY', () => {
    const keys = testKeys(1)
    const m = newMachine(keys, 0)
    const p = proposal(keys, keys[0] as NodeKey, 1)
    const effects = m.propose(p.block, p.hash, p.signature)
    expect(effects.map((e) => e.type)).toEqual(['broadcast', 'persist-vote', 'broadcast', 'persist-vote', 'broadcast', 'deliver'])
    const [d] = ofType(effects, 'deliver')
    expect(d?.signatures).toHaveLength(1)
    expect(certificateProblem(1, p.block.header.creator, p.hash, d?.signatures ?? [], [keys[0]?.publicKey as Uint8Array], 1)).toBeUndefined()
  })

  it.each(NS.filter((n) => n >= 2))('n = %i: delivers exactly when q distinct READYs (its own included) are counted', (n) => {
    const keys = testKeys(n)
    const { q } = thresholds(n)
    const m = newMachine(keys, 0)
    const p = proposal(keys, keys[1] as NodeKey, 1)
    m.receive((keys[1] as NodeKey).publicKey, p.message) // gives the block; own echo only: no READY
    let own = 0
    let deliveredAt = -1
    for (let j = 1; j < n; j++) {
      const effects = m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 1, p.block.header.creator, p.hash))
      own += readyBroadcasts(effects).length
      const total = j + own
      const delivers = ofType(effects, 'deliver')
      if (total >= q && deliveredAt < 0) {
        expect(delivers).toHaveLength(1)
        expect(delivers[0]?.signatures).toHaveLength(q)
        deliveredAt = j
      } else {
        expect(delivers).toEqual([])
      }
    }
    expect(own).toBe(1)
    expect(deliveredAt).toBeGreaterThan(0)
  })

  it.each(NS.filter((n) => n >= 2))('n = %i: a node that cannot READY itself (it signed another hash) delivers at exactly q received READYs', (n) => {
    const keys = testKeys(n)
    const { q } = thresholds(n)
    const creator = keys[1] as NodeKey
    const other = proposal(keys, creator, 1, 999)
    const p = proposal(keys, creator, 1)
    const m = newMachine(keys, 0, [{ round: 1, creator: creator.publicKey, kind: 'ready', hash: other.hash }])
    m.receive(creator.publicKey, p.message)
    const senders = Array.from({ length: n - 1 }, (_, i) => i + 1)
    for (const [i, j] of senders.entries()) {
      const effects = m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 1, creator.publicKey, p.hash))
      expect(readyBroadcasts(effects, p.hash)).toEqual([])
      const delivers = ofType(effects, 'deliver')
      if (i + 1 === q) {
        expect(delivers).toHaveLength(1)
        expect(certificateProblem(1, creator.publicKey, p.hash, delivers[0]?.signatures ?? [], keys.map((k) => k.publicKey), q)).toBeUndefined()
        return
      }
      expect(delivers).toEqual([]) // q − 1 or fewer
    }
    // n = 2, 3: q = n, and the n − 1 others are not enough without this node's own READY
    expect(n - 1).toBeLessThan(q)
  })

  it.each(NS.filter((n) => n >= 2))('n = %i: q READYs without the block → no delivery until the block arrives', (n) => {
    const keys = testKeys(n)
    const { q } = thresholds(n)
    const p = proposal(keys, keys[1] as NodeKey, 1)
    const m = newMachine(keys, 0)
    const all: Effect[] = []
    for (let j = 1; j < n; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 1, p.block.header.creator, p.hash)))
    expect(m.status(1, p.block.header.creator)?.readies[hex(p.hash)]).toBe(n)
    expect(n).toBeGreaterThanOrEqual(q)
    expect(ofType(all, 'deliver')).toEqual([])
    const effects = m.receive((keys[1] as NodeKey).publicKey, p.message)
    expect(ofType(effects, 'deliver')).toHaveLength(1)
  })
})

describe('amplification (READY after f + 1 READYs)', () => {
  it('n = 1: f = 0 and the only READY comes from the node itself (through its own echo)', () => {
    expect(thresholds(1).f).toBe(0)
    const keys = testKeys(1)
    const p = proposal(keys, keys[0] as NodeKey, 1)
    expect(readyBroadcasts(newMachine(keys, 0).propose(p.block, p.hash, p.signature), p.hash)).toHaveLength(1)
  })

  it.each(NS.filter((n) => n >= 2))('n = %i: f READYs → no READY; the (f+1)-th → READY(h), persisted first', (n) => {
    const keys = testKeys(n)
    const { f } = thresholds(n)
    const self = keys[0] as NodeKey
    const creator = keys[1] as NodeKey
    const p = proposal(keys, creator, 3)
    const m = newMachine(keys, 0)
    // f READYs for another hash of the instance do not combine with those for h
    const decoy = proposal(keys, creator, 3, 5)
    for (let j = 1; j <= f; j++) {
      const effects = m.receive((keys[n - j] as NodeKey).publicKey, readyMsg(keys[n - j] as NodeKey, 3, creator.publicKey, decoy.hash))
      expect(readyBroadcasts(effects)).toEqual([])
    }
    // a fresh node: f READYs for h from distinct members
    const m2 = newMachine(keys, 0)
    for (let j = 1; j <= f; j++) {
      const effects = m2.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 3, creator.publicKey, p.hash))
      expect(readyBroadcasts(effects)).toEqual([])
      expect(ofType(effects, 'persist-vote')).toEqual([])
      if (f > 0) expect(m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 3, creator.publicKey, p.hash))).toEqual([])
    }
    const sender = keys[f + 1] as NodeKey
    const effects = m2.receive(sender.publicKey, readyMsg(sender, 3, creator.publicKey, p.hash))
    const persistAt = effects.findIndex((e) => e.type === 'persist-vote' && e.vote.kind === 'ready' && equalBytes(e.vote.hash, p.hash))
    const broadcastAt = effects.findIndex((e) => e.type === 'broadcast' && e.message.type === 'ready' && equalBytes(e.message.hash, p.hash))
    expect(persistAt).toBeGreaterThanOrEqual(0)
    expect(broadcastAt).toBeGreaterThan(persistAt)
    const [ready] = readyBroadcasts(effects)
    expect(readyBroadcasts(effects)).toHaveLength(1)
    expect(ready?.round).toBe(3)
    expect(hex(ready?.creator ?? new Uint8Array())).toBe(hex(creator.publicKey))
    expect(verifySignature(self.publicKey, readySigningBytes(3, creator.publicKey, p.hash), ready?.signature ?? new Uint8Array())).toBe(true)
    expect(echoBroadcasts(effects)).toEqual([]) // amplification does not echo
    // the f READYs for the decoy never led anywhere, and further READYs for h do not make it READY again
    for (let j = f + 2; j < n; j++) expect(readyBroadcasts(m2.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 3, creator.publicKey, p.hash)))).toEqual([])
  })
})

describe('ECHO → READY', () => {
  it.each(NS.filter((n) => n >= 2))('n = %i: after its PROPOSE-triggered echo, READY exactly at q echoes (own counted)', (n) => {
    const keys = testKeys(n)
    const { q } = thresholds(n)
    const creator = keys[1] as NodeKey
    const p = proposal(keys, creator, 1)
    const m = newMachine(keys, 0)
    const first = m.receive(creator.publicKey, p.message)
    expect(echoBroadcasts(first, p.hash)).toHaveLength(1)
    expect(readyBroadcasts(first)).toEqual([])
    for (let j = 1; j < n; j++) {
      const effects = m.receive((keys[j] as NodeKey).publicKey, echoMsg(1, creator.publicKey, p.hash))
      const echoes = 1 + j
      if (echoes === q) {
        const persistAt = effects.findIndex((e) => e.type === 'persist-vote' && e.vote.kind === 'ready')
        expect(persistAt).toBeGreaterThanOrEqual(0)
        expect(effects.findIndex((e) => e.type === 'broadcast' && e.message.type === 'ready')).toBeGreaterThan(persistAt)
        expect(readyBroadcasts(effects, p.hash)).toHaveLength(1)
      } else {
        expect(readyBroadcasts(effects)).toEqual([])
      }
    }
  })

  it.each(NS.filter((n) => n >= 4))('n = %i: without a PROPOSE, READY exactly at q echoes from others (and it never echoes)', (n) => {
    const keys = testKeys(n)
    const { q } = thresholds(n)
    const creator = keys[1] as NodeKey
    const p = proposal(keys, creator, 1)
    const m = newMachine(keys, 0)
    for (let j = 1; j < n; j++) {
      const effects = m.receive((keys[j] as NodeKey).publicKey, echoMsg(1, creator.publicKey, p.hash))
      expect(echoBroadcasts(effects)).toEqual([])
      expect(readyBroadcasts(effects)).toHaveLength(j === q ? 1 : 0)
      if (j === q) expect(ofType(effects, 'fetch')).toEqual([]) // q ECHOs alone: READY but the f+1-READY fetch rule is not met
    }
  })

  it('echoes for different hashes and repeated echoes of one sender do not add up (n = 7)', () => {
    const keys = testKeys(7)
    const creator = keys[1] as NodeKey
    const a = proposal(keys, creator, 1, 1)
    const b = proposal(keys, creator, 1, 2)
    const m = newMachine(keys, 0)
    const all: Effect[] = []
    for (let j = 1; j <= 4; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, echoMsg(1, creator.publicKey, a.hash)))
    all.push(...m.receive((keys[5] as NodeKey).publicKey, echoMsg(1, creator.publicKey, b.hash)))
    all.push(...m.receive((keys[1] as NodeKey).publicKey, echoMsg(1, creator.publicKey, a.hash)))
    all.push(...m.receive((keys[5] as NodeKey).publicKey, echoMsg(1, creator.publicKey, a.hash))) // its 2nd echo: ignored
    expect(readyBroadcasts(all)).toEqual([])
    expect(readyBroadcasts(m.receive((keys[6] as NodeKey).publicKey, echoMsg(1, creator.publicKey, a.hash)), a.hash)).toHaveLength(1)
  })
})

describe('one vote per member', () => {
  it.each([4, 7, 10])('n = %i: only a member\'s first valid READY counts (a later one, for any hash, is ignored)', (n) => {
    const keys = testKeys(n)
    const { f } = thresholds(n)
    const creator = keys[1] as NodeKey
    const a = proposal(keys, creator, 1, 1)
    const b = proposal(keys, creator, 1, 2)
    const m = newMachine(keys, 0)
    const all: Effect[] = []
    // members 1..f+1 READY a first, then b: b must not reach f + 1
    for (let j = 1; j <= f + 1; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 1, creator.publicKey, j === f + 1 ? a.hash : b.hash)))
    for (let j = 1; j <= f + 1; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 1, creator.publicKey, j === f + 1 ? b.hash : a.hash)))
    expect(m.status(1, creator.publicKey)?.readies).toEqual({ [hex(b.hash)]: f, [hex(a.hash)]: 1 })
    expect(readyBroadcasts(all)).toEqual([])
    expect(ofType(all, 'fetch')).toEqual([])
  })

  it.each([4, 7, 10])('n = %i: only a member\'s first ECHO counts', (n) => {
    const keys = testKeys(n)
    const { q } = thresholds(n)
    const creator = keys[1] as NodeKey
    const a = proposal(keys, creator, 1, 1)
    const b = proposal(keys, creator, 1, 2)
    const m = newMachine(keys, 0)
    const all: Effect[] = []
    // q − 1 members echo b, then all of them echo a, and again b
    for (let j = 1; j < q; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, echoMsg(1, creator.publicKey, b.hash)))
    for (let j = 1; j < n; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, echoMsg(1, creator.publicKey, a.hash)))
    for (let j = 1; j < q; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, echoMsg(1, creator.publicKey, b.hash)))
    expect(m.status(1, creator.publicKey)?.echoes).toEqual({ [hex(b.hash)]: q - 1, [hex(a.hash)]: n - q })
    expect(readyBroadcasts(all)).toEqual([])
  })
})

describe('votes persisted before a restart', () => {
  it('n = 1: persisted ECHO(h2) and READY(h1): re-sending the echo reaches q = 1 for h2, yet only READY(h1) is sent', () => {
    const keys = testKeys(1)
    const self = keys[0] as NodeKey
    const h1 = proposal(keys, self, 1, 1)
    const h2 = proposal(keys, self, 1, 2)
    const m = newMachine(keys, 0, [{ round: 1, creator: self.publicKey, kind: 'echo', hash: h2.hash }, { round: 1, creator: self.publicKey, kind: 'ready', hash: h1.hash }])
    const effects = m.propose(h1.block, h1.hash, h1.signature)
    expect(readyBroadcasts(effects, h2.hash)).toEqual([])
    expect(ofType(effects, 'persist-vote')).toEqual([])
    expect(readyBroadcasts(effects).map((r) => hex(r.hash))).toEqual([hex(h1.hash)])
    expect(ofType(effects, 'deliver').map((d) => hex(d.hash))).toEqual([hex(h1.hash)])
  })

  for (const n of NS.filter((n) => n >= 2)) {
    const keys = testKeys(n)
    const { f } = thresholds(n)
    const creator = keys[1] as NodeKey
    const a = proposal(keys, creator, 4, 1)
    const b = proposal(keys, creator, 4, 2)
    const others = Array.from({ length: n - 1 }, (_, i) => keys[i + 1] as NodeKey)

    const checkOnlyH1 = (effects: Effect[]): void => {
      expect(readyBroadcasts(effects, b.hash)).toEqual([])
      expect(ofType(effects, 'persist-vote').filter((e) => e.vote.kind === 'ready' && !equalBytes(e.vote.hash, a.hash))).toEqual([])
      const resent = readyBroadcasts(effects)
      expect(resent).toHaveLength(1)
      expect(hex(resent[0]?.hash ?? new Uint8Array())).toBe(hex(a.hash))
      expect(verifySignature((keys[0] as NodeKey).publicKey, readySigningBytes(4, creator.publicKey, a.hash), resent[0]?.signature ?? new Uint8Array())).toBe(true)
    }

    it(`n = ${n}: READY(h1) persisted; PROPOSE(h2) and ECHOs for h2 from everyone → never READY(h2); READY(h1) re-sent once`, () => {
      const m = newMachine(keys, 0, [{ round: 4, creator: creator.publicKey, kind: 'ready', hash: a.hash }])
      const all = [...m.receive(creator.publicKey, b.message)]
      expect(readyBroadcasts(all, a.hash)).toHaveLength(1) // re-sent when the instance comes alive
      for (const k of others) all.push(...m.receive(k.publicKey, echoMsg(4, creator.publicKey, b.hash)))
      expect(m.status(4, creator.publicKey)?.echoes[hex(b.hash)]).toBeGreaterThanOrEqual(thresholds(n).q)
      checkOnlyH1(all)
    })

    it(`n = ${n}: READY(h1) persisted; f+1 (and then all) READYs for h2 → never READY(h2)`, () => {
      const m = newMachine(keys, 0, [{ round: 4, creator: creator.publicKey, kind: 'ready', hash: a.hash }])
      const all: Effect[] = []
      for (const [i, k] of others.entries()) {
        all.push(...m.receive(k.publicKey, readyMsg(k, 4, creator.publicKey, b.hash)))
        if (i === f) expect(readyBroadcasts(all, b.hash)).toEqual([])
      }
      checkOnlyH1(all)
    })

    it(`n = ${n}: ECHO(h1) persisted; a PROPOSE for h2 → re-sends ECHO(h1), no echo of h2`, () => {
      const m = newMachine(keys, 0, [{ round: 4, creator: creator.publicKey, kind: 'echo', hash: a.hash }])
      const effects = m.receive(creator.publicKey, b.message)
      const echoes = echoBroadcasts(effects)
      expect(echoes).toHaveLength(1)
      expect(hex(echoes[0]?.hash ?? new Uint8Array())).toBe(hex(a.hash))
      expect(ofType(effects, 'persist-vote')).toEqual([])
      expect(echoBroadcasts(m.receive(creator.publicKey, a.message))).toEqual([])
      expect(echoBroadcasts(m.receive(creator.publicKey, b.message))).toEqual([])
    })
  }

  it('ECHO(h1) persisted: q echoes for h1 (its re-sent echo counted) → READY(h1), persisted then (n = 4)', () => {
    const keys = testKeys(4)
    const creator = keys[1] as NodeKey
    const a = proposal(keys, creator, 4, 1)
    const m = newMachine(keys, 0, [{ round: 4, creator: creator.publicKey, kind: 'echo', hash: a.hash }])
    expect(echoBroadcasts(m.receive((keys[2] as NodeKey).publicKey, echoMsg(4, creator.publicKey, a.hash)), a.hash)).toHaveLength(1)
    const effects = m.receive((keys[3] as NodeKey).publicKey, echoMsg(4, creator.publicKey, a.hash))
    expect(readyBroadcasts(effects, a.hash)).toHaveLength(1)
    expect(ofType(effects, 'persist-vote').map((e) => e.vote.kind)).toEqual(['ready'])
  })
})

describe('rejection', () => {
  const keys = testKeys(4)
  const [k0, k1, k2, k3] = keys as [NodeKey, NodeKey, NodeKey, NodeKey]
  const outsider = testKey(0, 1)
  const p = proposal(keys, k1, 1)
  const garbage = new Uint8Array(64).fill(7)

  function expectRejectOnly (m: RbcMachine, from: NodeKey, message: RbcMessage, reason: RegExp): void {
    const before = { open: m.openInstances, status: canon(m.status(1, k1.publicKey)) }
    const effects = m.receive(from.publicKey, message)
    expect(effects).toHaveLength(1)
    expect(effects[0]?.type).toBe('reject')
    const e = effects[0] as Extract<Effect, { type: 'reject' }>
    expect(hex(e.from)).toBe(hex(from.publicKey))
    expect(e.reason).toMatch(reason)
    expect({ open: m.openInstances, status: canon(m.status(1, k1.publicKey)) }).toEqual(before)
  }

  it('messages from a non-member', () => {
    const m = newMachine(keys, 0)
    const own = proposal([...keys, outsider], outsider, 1)
    expectRejectOnly(m, outsider, own.message, /not in the committee/)
    expectRejectOnly(m, outsider, p.message, /not in the committee/)
    expectRejectOnly(m, outsider, echoMsg(1, k1.publicKey, p.hash), /not in the committee/)
    expectRejectOnly(m, outsider, readyMsg(outsider, 1, k1.publicKey, p.hash), /not in the committee/)
    expect(m.openInstances).toBe(0)
  })

  it('ECHO/READY for a creator that is not a member', () => {
    const m = newMachine(keys, 0)
    expectRejectOnly(m, k2, echoMsg(1, outsider.publicKey, p.hash), /creator is not in the committee/)
    expectRejectOnly(m, k2, readyMsg(k2, 1, outsider.publicKey, p.hash), /creator is not in the committee/)
    expect(m.openInstances).toBe(0)
  })

  it('a PROPOSE relayed by a member other than the creator', () => {
    const m = newMachine(keys, 0)
    expectRejectOnly(m, k2, p.message, /not sent by the block creator/)
    expect(m.status(1, k1.publicKey)).toBeUndefined()
  })

  it('a PROPOSE with a bad signature or a hash that does not recompute', () => {
    const m = newMachine(keys, 0)
    const byOther = proposal(keys, k1, 1, 1000, k2)
    expectRejectOnly(m, k1, byOther.message, /bad proposal signature/)
    expectRejectOnly(m, k1, { ...p.message, signature: garbage }, /bad proposal signature/)
    expectRejectOnly(m, k1, { ...p.message, signature: p.signature.slice(0, 10) }, /bad proposal signature/)
    expectRejectOnly(m, k1, { ...p.message, signature: proposal(keys, k1, 2).signature }, /bad proposal signature/) // signed for round 2
    const other = proposal(keys, k1, 1, 77)
    expectRejectOnly(m, k1, { ...p.message, hash: other.hash, signature: other.signature }, /does not recompute/)
    const tampered: Block = { ...p.block, header: { ...p.block.header, messageCount: 1 } }
    expectRejectOnly(m, k1, { ...p.message, block: tampered }, /does not recompute/)
    expect(m.status(1, k1.publicKey)).toBeUndefined()
    // the real one is still echoed afterwards
    expect(echoBroadcasts(m.receive(k1.publicKey, p.message), p.hash)).toHaveLength(1)
  })

  it('a READY with a forged signature (another key, garbage, truncated, other round)', () => {
    const m = newMachine(keys, 0)
    const real = readyMsg(k2, 1, k1.publicKey, p.hash) as Extract<RbcMessage, { type: 'ready' }>
    expectRejectOnly(m, k2, readyMsg(k3, 1, k1.publicKey, p.hash), /bad READY signature/) // k3's signature, sent by k2
    expectRejectOnly(m, k2, readyMsg(k0, 1, k1.publicKey, p.hash), /bad READY signature/) // the receiver's own signature
    expectRejectOnly(m, k2, readyMsg(outsider, 1, k1.publicKey, p.hash), /bad READY signature/)
    expectRejectOnly(m, k2, { ...real, signature: garbage }, /bad READY signature/)
    expectRejectOnly(m, k2, { ...real, signature: real.signature.slice(0, 63) }, /bad READY signature/)
    expectRejectOnly(m, k2, { ...real, round: 2 }, /bad READY signature/)
    expectRejectOnly(m, k2, { ...real, hash: proposal(keys, k1, 1, 5).hash }, /bad READY signature/)
    expect(m.status(1, k1.publicKey)).toBeUndefined()
  })

  it.each(NS.filter((n) => n >= 2))('n = %i: forged READYs never count toward f + 1 or q', (n) => {
    const ks = testKeys(n)
    const { f, q } = thresholds(n)
    const creator = ks[1] as NodeKey
    const b = proposal(ks, creator, 1)
    const m = newMachine(ks, 0)
    m.receive(creator.publicKey, b.message)
    const all: Effect[] = []
    // every other member sends forged READYs first (another member's signature, then garbage)
    for (let j = 1; j < n; j++) {
      const from = ks[j] as NodeKey
      const forger = ks[j + 1 < n ? j + 1 : 0] as NodeKey // another member's key (the receiver's own for the last)
      all.push(...m.receive(from.publicKey, readyMsg(forger, 1, creator.publicKey, b.hash)))
      all.push(...m.receive(from.publicKey, { type: 'ready', round: 1, creator: creator.publicKey, hash: b.hash, signature: garbage }))
    }
    expect(all.every((e) => e.type === 'reject')).toBe(true)
    expect(all).toHaveLength(2 * (n - 1))
    expect(m.status(1, creator.publicKey)?.readies).toEqual({})
    // the same members' valid READYs still count, from the first one on
    for (let j = 1; j <= f; j++) expect(readyBroadcasts(m.receive((ks[j] as NodeKey).publicKey, readyMsg(ks[j] as NodeKey, 1, creator.publicKey, b.hash)))).toEqual([])
    expect(readyBroadcasts(m.receive((ks[f + 1] as NodeKey).publicKey, readyMsg(ks[f + 1] as NodeKey, 1, creator.publicKey, b.hash)))).toHaveLength(1)
    if (f + 2 < q) {
      expect(m.status(1, creator.publicKey)?.readies[hex(b.hash)]).toBe(f + 2)
      expect(m.delivered(1, creator.publicKey)).toBeUndefined()
    } else {
      // the f+1 valid READYs and its own make q: delivered (the block was proposed to it)
      expect(hex(m.delivered(1, creator.publicKey) ?? new Uint8Array())).toBe(hex(b.hash))
    }
  })

  it('a PROPOSE that failed block validation: rejected, not echoed, and its content not kept (nor validated again)', () => {
    const m = newMachine(keys, 0)
    const effects = m.receive(k1.publicKey, p.message, false)
    expect(effects.map((e) => e.type)).toEqual(['reject'])
    expect(m.knownBlock(1, k1.publicKey, p.hash)).toBeUndefined()
    expect(m.wantsProposal(1, k1.publicKey, p.hash)).toBe(false)
    expect(m.stats().blockBytes).toBe(0)
  })
})

describe('equivocation', () => {
  it.each([2, 4, 7, 10])('n = %i: two signed proposals for one (round, creator) → evidence; only the first is echoed', (n) => {
    const keys = testKeys(n)
    const creator = keys[1] as NodeKey
    const a = proposal(keys, creator, 6, 1)
    const b = proposal(keys, creator, 6, 2)
    const c = proposal(keys, creator, 6, 3)
    const m = newMachine(keys, 0)
    expect(echoBroadcasts(m.receive(creator.publicKey, a.message), a.hash)).toHaveLength(1)
    const effects = m.receive(creator.publicKey, b.message)
    expect(echoBroadcasts(effects)).toEqual([])
    expect(ofType(effects, 'persist-vote')).toEqual([])
    const ev = ofType(effects, 'equivocation')
    expect(ev).toHaveLength(1)
    const e = ev[0] as (typeof ev)[number]
    expect([e.round, hex(e.creator), hex(e.first.hash), hex(e.second.hash)]).toEqual([6, hex(creator.publicKey), hex(a.hash), hex(b.hash)])
    expect(hex(e.first.signature)).toBe(hex(a.signature))
    expect(hex(e.second.signature)).toBe(hex(b.signature))
    expect(canon(e.second.header)).toEqual(canon(b.block.header))
    // repeats are not new evidence, and the slot keeps one pair: a third proposal is refused
    expect(m.receive(creator.publicKey, b.message)).toEqual([])
    expect(m.receive(creator.publicKey, a.message)).toEqual([])
    expect(m.wantsProposal(6, creator.publicKey, c.hash)).toBe(false)
    const third = m.receive(creator.publicKey, c.message)
    expect(ofType(third, 'equivocation')).toEqual([])
    expect(ofType(third, 'reject')[0]?.reason).toMatch(/third proposal/)
    // only the echoed block's content is kept: if the others certify b, this node fetches it
    expect(m.knownBlock(6, creator.publicKey, b.hash)).toBeUndefined()
    const all: Effect[] = []
    for (let j = 1; j < n; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 6, creator.publicKey, b.hash)))
    expect(ofType(all, 'fetch')).toHaveLength(1)
    expect(readyBroadcasts(all, a.hash)).toEqual([])
    expect(readyBroadcasts(all, b.hash)).toHaveLength(1)
    expect(ofType(all, 'deliver')).toEqual([])
    expect(ofType(m.blockContent(b.block), 'deliver').map((d) => hex(d.hash))).toEqual([hex(b.hash)])
  })
})

describe('fetching a block known only by its hash', () => {
  it.each(NS.filter((n) => n >= 2))('n = %i: fetch after f + 1 READYs from the echoers/readiers; deliver only with the block and q READYs', (n) => {
    const keys = testKeys(n)
    const { f, q } = thresholds(n)
    const self = keys[0] as NodeKey
    const creator = keys[1] as NodeKey
    const p = proposal(keys, creator, 2)
    const m = newMachine(keys, 0)
    // echoes for h from members 2.. (fewer than q, so they alone lead nowhere)
    const echoers = Array.from({ length: Math.min(q - 1, n - 2) }, (_, i) => keys[i + 2] as NodeKey)
    for (const k of echoers) expect(m.receive(k.publicKey, echoMsg(2, creator.publicKey, p.hash))).toEqual([])
    // READYs from the top members down
    const readiers = Array.from({ length: n - 1 }, (_, i) => keys[n - 1 - i] as NodeKey)
    const all: Effect[] = []
    let fetches: Array<Extract<Effect, { type: 'fetch' }>> = []
    for (const [i, k] of readiers.entries()) {
      const effects = m.receive(k.publicKey, readyMsg(k, 2, creator.publicKey, p.hash))
      all.push(...effects)
      if (i < f) expect(ofType(effects, 'fetch')).toEqual([])
      if (i === f) {
        fetches = ofType(effects, 'fetch')
        expect(fetches).toHaveLength(1)
      }
    }
    expect(ofType(all, 'fetch')).toHaveLength(1) // asked once
    const fetch = fetches[0] as (typeof fetches)[number]
    expect([fetch.round, hex(fetch.creator), hex(fetch.hash)]).toEqual([2, hex(creator.publicKey), hex(p.hash)])
    const expected = new Set([...echoers, ...readiers.slice(0, f + 1)].map((k) => hex(k.publicKey)))
    expect(new Set(fetch.from.map(hex))).toEqual(expected)
    expect(fetch.from.map(hex)).not.toContain(hex(self.publicKey))
    expect(fetch.from).toHaveLength(expected.size)
    // q READYs (this node's own included), but no block yet
    expect(m.status(2, creator.publicKey)?.readies[hex(p.hash)]).toBe(n)
    expect(ofType(all, 'deliver')).toEqual([])
    // unwanted blocks are ignored
    const stray = proposal(keys, creator, 2, 4242)
    expect(m.blockContent(stray.block)).toEqual([])
    expect(m.blockContent(makeBlock(keys, creator, 9))).toEqual([])
    expect(m.blockContent(makeBlock(keys, keys[0] as NodeKey, 2))).toEqual([])
    const bad: Block = { ...p.block, header: { ...p.block.header, messagesRoot: new Uint8Array(32) } }
    expect(m.blockContent(bad)).toEqual([])
    expect(m.knownBlock(2, creator.publicKey, stray.hash)).toBeUndefined()
    // the real block
    const effects = m.blockContent(p.block)
    const delivers = ofType(effects, 'deliver')
    expect(delivers).toHaveLength(1)
    expect(hex(delivers[0]?.hash ?? new Uint8Array())).toBe(hex(p.hash))
    expect(certificateProblem(2, creator.publicKey, p.hash, delivers[0]?.signatures ?? [], keys.map((k) => k.publicKey), q)).toBeUndefined()
    expect(m.blockContent(p.block)).toEqual([])
  })

  it('a block supplied before anyone voted for its hash is ignored (n = 4)', () => {
    const keys = testKeys(4)
    const creator = keys[1] as NodeKey
    const p = proposal(keys, creator, 2)
    const m = newMachine(keys, 0)
    m.receive((keys[2] as NodeKey).publicKey, echoMsg(2, creator.publicKey, proposal(keys, creator, 2, 1).hash))
    expect(m.blockContent(p.block)).toEqual([])
    expect(m.knownBlock(2, creator.publicKey, p.hash)).toBeUndefined()
    const all: Effect[] = []
    for (let j = 1; j < 4; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 2, creator.publicKey, p.hash)))
    expect(ofType(all, 'deliver')).toEqual([])
    expect(ofType(all, 'fetch')).toHaveLength(1)
    expect(ofType(m.blockContent(p.block), 'deliver')).toHaveLength(1)
  })

  it('fewer than q READYs and the block → no delivery yet (n = 7)', () => {
    const keys = testKeys(7)
    const { f, q } = thresholds(7)
    const creator = keys[1] as NodeKey
    const p = proposal(keys, creator, 2)
    const m = newMachine(keys, 0)
    for (let j = 1; j <= f + 1; j++) m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 2, creator.publicKey, p.hash))
    expect(m.status(2, creator.publicKey)?.readies[hex(p.hash)]).toBe(f + 2)
    expect(f + 2).toBeLessThan(q)
    expect(m.blockContent(p.block)).toEqual([])
    expect(m.knownBlock(2, creator.publicKey, p.hash)).toBeDefined()
    const rest: Effect[] = []
    for (let j = f + 2; j < 7; j++) rest.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 2, creator.publicKey, p.hash)))
    expect(ofType(rest, 'deliver')).toHaveLength(1)
    expect(ofType(rest, 'deliver')[0]?.signatures).toHaveLength(q)
  })
})

describe('after delivery', () => {
  {
    it('late messages for a delivered instance produce no effects; the instance shrinks to its hash at once', () => {
      const keys = testKeys(4)
      const creator = keys[1] as NodeKey
      const p = proposal(keys, creator, 1)
      const run = runCluster(keys, [{ creator: 1, p }], [])
      const m = run.machines[0] as RbcMachine
      expect(hex(m.delivered(1, creator.publicKey) ?? new Uint8Array())).toBe(hex(p.hash))
      expect(m.status(1, creator.publicKey)).toEqual({ echoes: {}, readies: {}, delivered: hex(p.hash) })
      expect(m.knownBlock(1, creator.publicKey, p.hash)).toBeUndefined()
      expect(m.openInstances).toBe(0)
      expect(m.stats()).toMatchObject({ open: 0, orphans: 0, decided: 1, blockBytes: 0 })
      // a conflicting proposal is still evidence (the decided round keeps the proposal signature), but is not echoed
      const other = proposal(keys, creator, 1, 9)
      expect(m.receive(creator.publicKey, other.message).map((e) => e.type)).toEqual(['equivocation'])
      for (const { step } of (run.log[0] ?? [])) {
        if (step.kind === 'recv') expect(m.receive((keys[step.from] as NodeKey).publicKey, step.message)).toEqual([])
      }
      for (let j = 1; j < 4; j++) {
        const k = keys[j] as NodeKey
        expect(m.receive(k.publicKey, echoMsg(1, creator.publicKey, p.hash))).toEqual([])
        expect(m.receive(k.publicKey, readyMsg(k, 1, creator.publicKey, p.hash))).toEqual([])
        expect(m.receive(k.publicKey, readyMsg(k, 1, creator.publicKey, proposal(keys, creator, 1, 9).hash))).toEqual([])
      }
      expect(m.receive(creator.publicKey, p.message)).toEqual([])
      expect(m.blockContent(p.block)).toEqual([])
      expect(hex(m.delivered(1, creator.publicKey) ?? new Uint8Array())).toBe(hex(p.hash))
      expect(m.receive(creator.publicKey, other.message)).toEqual([])
    })

    it('late votes from members not heard before, and a late PROPOSE, after a delivery through a fetch (n = 10)', () => {
      const keys = testKeys(10)
      const { f, q } = thresholds(10)
      const creator = keys[1] as NodeKey
      const p = proposal(keys, creator, 1)
      const m = newMachine(keys, 0)
      const all: Effect[] = []
      for (let j = 1; j < q; j++) all.push(...m.receive((keys[j] as NodeKey).publicKey, readyMsg(keys[j] as NodeKey, 1, creator.publicKey, p.hash)))
      expect(ofType(all, 'fetch')).toHaveLength(1)
      expect(readyBroadcasts(all)).toHaveLength(1)
      expect(ofType(m.blockContent(p.block), 'deliver')).toHaveLength(1)
      const late = Array.from({ length: 10 - q }, (_, i) => keys[q + i] as NodeKey)
      expect(late).toHaveLength(f)
      const decoy = proposal(keys, creator, 1, 9)
      for (const k of late) {
        expect(m.receive(k.publicKey, echoMsg(1, creator.publicKey, p.hash))).toEqual([])
        expect(m.receive(k.publicKey, readyMsg(k, 1, creator.publicKey, p.hash))).toEqual([])
      }
      for (const k of late) expect(m.receive(k.publicKey, readyMsg(k, 1, creator.publicKey, decoy.hash))).toEqual([])
      // it never echoed (it had no PROPOSE before delivering): a late PROPOSE does not make it echo now
      expect(m.receive(creator.publicKey, p.message)).toEqual([])
      expect(m.blockContent(p.block)).toEqual([])
    })
  }

})

describe('bounded memory under a flood of rounds', () => {
  // n = 4: node 0 observes; k1 is an honest creator; k3 floods ECHOs for rounds k1 never proposed
  const keys = testKeys(4)
  const [, k1, k2, k3] = keys as [NodeKey, NodeKey, NodeKey, NodeKey]
  const flood = (m: RbcMachine, count: number, from = k3): Effect[] =>
    Array.from({ length: count }, (_, i) => m.receive(from.publicKey, echoMsg(1000 + i, k1.publicKey, new Uint8Array(32).fill(i % 256)))).flat()

  it('defers orphan messages beyond the per-creator limit and still delivers the honest creator\'s block', () => {
    const m = newMachine(keys, 0)
    const flooded = flood(m, 300)
    const deferred = ofType(flooded, 'defer')
    expect(deferred).toHaveLength(300 - 256)
    expect(m.openInstances).toBe(256)
    // the honest round-1 instance is created by its PROPOSE despite the flood, and finishes
    const p = proposal(keys, k1, 1)
    const effects = [
      ...m.receive(k1.publicKey, { type: 'propose', block: p.block, hash: p.hash, signature: p.signature }),
      ...m.receive(k1.publicKey, echoMsg(1, k1.publicKey, p.hash)),
      ...m.receive(k2.publicKey, echoMsg(1, k1.publicKey, p.hash)),
      ...m.receive(k1.publicKey, readyMsg(k1, 1, k1.publicKey, p.hash)),
      ...m.receive(k2.publicKey, readyMsg(k2, 1, k1.publicKey, p.hash))
    ]
    expect(echoBroadcasts(effects)).toHaveLength(1)
    expect(ofType(effects, 'deliver').map((d) => hex(d.hash))).toEqual([hex(p.hash)])
    // a repeated PROPOSE does not echo again
    expect(echoBroadcasts(m.receive(k1.publicKey, { type: 'propose', block: p.block, hash: p.hash, signature: p.signature }))).toHaveLength(0)
  })

  it('never echoes two proposals of one round, even when the creator floods its own rounds first', () => {
    const m = newMachine(keys, 0)
    for (let i = 0; i < 300; i++) m.receive(k3.publicKey, echoMsg(2000 + i, k3.publicKey, new Uint8Array(32).fill(7)))
    const a = proposal(keys, k3, 1, 1000)
    const b = proposal(keys, k3, 1, 2000)
    const effects = [
      ...m.receive(k3.publicKey, { type: 'propose', block: a.block, hash: a.hash, signature: a.signature }),
      ...m.receive(k3.publicKey, { type: 'propose', block: b.block, hash: b.hash, signature: b.signature })
    ]
    expect(echoBroadcasts(effects).map((e) => hex(e.hash))).toEqual([hex(a.hash)])
    expect(ofType(effects, 'equivocation')).toHaveLength(1)
  })

  it('rejects PROPOSEs of a creator that already has the maximum of undelivered proposals', () => {
    const m = new RbcMachine({ members: keys.map((k) => k.publicKey), self: keys[0]!.publicKey, crypto: rbcCrypto(keys[0]!), limits: { maxOpenInstancesPerCreator: 3 } })
    const results = [1, 2, 3, 4].map((round) => {
      const p = proposal(keys, k3, round)
      return m.receive(k3.publicKey, { type: 'propose', block: p.block, hash: p.hash, signature: p.signature })
    })
    expect(results.slice(0, 3).every((r) => echoBroadcasts(r).length === 1)).toBe(true)
    expect(ofType(results[3]!, 'reject')[0]?.reason).toMatch(/undelivered proposals/)
    expect(echoBroadcasts(results[3]!)).toHaveLength(0)
  })

  it('pruneOrphans drops orphans untouched since the previous call, keeping touched ones and voted instances', () => {
    const m = newMachine(keys, 0)
    flood(m, 10)
    const p = proposal(keys, k1, 1)
    m.receive(k1.publicKey, { type: 'propose', block: p.block, hash: p.hash, signature: p.signature })
    expect(m.openInstances).toBe(11)
    expect(m.pruneOrphans()).toBe(0) // everything was touched since creation
    m.receive(k2.publicKey, echoMsg(1000, k1.publicKey, new Uint8Array(32).fill(0))) // touch one orphan
    expect(m.pruneOrphans()).toBe(9)
    expect(m.openInstances).toBe(2)
    expect(m.status(1, k1.publicKey)).toBeDefined()
  })
})
