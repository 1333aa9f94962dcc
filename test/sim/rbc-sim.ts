/**
 * A seeded, in-process simulation of Bracha reliable broadcast: n RbcMachines (honest nodes) and up
 * to f scripted Byzantine nodes exchange messages through a simulated network that reorders,
 * duplicates and delays them. Every random choice comes from one mulberry32 stream seeded by
 * `seed`, so a run is reproducible from (n, seed, byzantine behaviours, crash mode).
 */
import { proposalSigningBytes, readySigningBytes } from '../../src/block/encoding.js'
import type { Block, ReadySignature } from '../../src/block/types.js'
import { thresholds, type Effect, type PersistedVote, type RbcMachine, type RbcMessage } from '../../src/broadcast/machine.js'
import { equalBytes, fromHex, toHex } from '../../src/codec/bytes.js'
import { verifySignature, type NodeKey } from '../../src/crypto/keys.js'
import { checkedBlockHash, makeBlock, newMachine, proposal, readyMsg, testKeys, type SignedProposal } from '../helpers/rbc-fixtures.js'

/** mulberry32: a tiny 32-bit PRNG, good enough to drive a scheduler reproducibly. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  readonly #next: () => number
  constructor (seed: number) { this.#next = mulberry32(seed) }
  /** 0 ≤ int(n) < n */
  int (n: number): number { return Math.floor(this.#next() * n) }
  chance (p: number): boolean { return this.#next() < p }
  pick<T> (xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list')
    return xs[this.int(xs.length)] as T
  }

  shuffle<T> (xs: readonly T[]): T[] {
    const out = [...xs]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[out[i], out[j]] = [out[j] as T, out[i] as T]
    }
    return out
  }

  bytes (n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256))
  }
}

export type Behaviour = 'equivocate' | 'forge' | 'unknown-hash' | 'silent'
/** Crash-restart one honest node mid-run; its dropped in-flight messages are re-sent ('missed') or everything ever sent to it is ('all'). */
export type CrashMode = 'missed' | 'all'

export interface SimOptions {
  n: number
  seed: number
  /** One behaviour per Byzantine node (at most f). */
  byzantine: readonly Behaviour[]
  crash?: CrashMode
}

export interface InstanceInfo {
  round: number
  creator: number
  /** Proposed by an honest creator (then exactly one hash) or by an equivocator (two). */
  honest: boolean
  hashes: string[]
}

export interface DeliveryRecord {
  step: number
  node: number
  incarnation: number
  round: number
  creator: number
  hash: string
  block: Block
  signatures: ReadySignature[]
}

export interface SimStats {
  steps: number
  received: number
  duplicates: number
  delays: number
  forged: number
  /** Forged messages for instances the receiver had settled: ignored unread. */
  forgedIgnored: number
  rejects: number
  fetches: number
  fetchesAnswered: number
  fetchesUnanswered: number
  junkBlocks: number
  equivocations: number
}

export interface SimResult {
  options: SimOptions
  n: number
  f: number
  q: number
  members: Uint8Array[]
  honest: number[]
  byzantine: Array<{ node: number, behaviour: Behaviour }>
  instances: InstanceInfo[]
  deliveries: DeliveryRecord[]
  /** `${node}/${round}/${creator}` → hashes (hex) this honest node broadcast a READY for, over all its incarnations. */
  readyHashes: Map<string, Set<string>>
  echoHashes: Map<string, Set<string>>
  /** Invariants checked while running (persist before broadcast, forged ⇔ rejected, …). */
  violations: string[]
  drained: boolean
  crash?: { node: number, step: number, dropped: number, resent: number, persistedVotes: number }
  stats: SimStats
  /** Canonical delivery log, for determinism checks. */
  log: string
}

type Event =
  | { kind: 'msg', from: number, to: number, message: RbcMessage, forged: boolean, copies: number, notBefore: number }
  | { kind: 'propose', node: number, p: SignedProposal, notBefore: number }
  | { kind: 'fetch', node: number, incarnation: number, round: number, creator: Uint8Array, hash: Uint8Array, from: Uint8Array[], junkTried: boolean, notBefore: number }

const MAX_STEPS = 3_000_000
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

export function runSim (options: SimOptions): SimResult {
  const { n, seed } = options
  const { f, q } = thresholds(n)
  if (options.byzantine.length > f) throw new Error(`${options.byzantine.length} Byzantine nodes > f = ${f}`)
  const rng = new Rng(seed)
  const keys = testKeys(n)
  const members = keys.map((k) => k.publicKey)
  const indexOf = new Map(members.map((m, i) => [toHex(m), i]))
  const idx = (key: Uint8Array): number => indexOf.get(toHex(key)) ?? -1

  const order = rng.shuffle(range(n))
  const byzantine = options.byzantine.map((behaviour, i) => ({ node: order[i] as number, behaviour }))
  const isByz = new Set(byzantine.map((b) => b.node))
  const honest = range(n).filter((i) => !isByz.has(i))
  const machines: Array<RbcMachine | undefined> = range(n).map((i) => isByz.has(i) ? undefined : newMachine(keys, i))
  const incarnation = range(n).map(() => 0)
  const persisted: PersistedVote[][] = range(n).map(() => [])
  const durable = range(n).map(() => new Set<string>())
  /** Delivered blocks survive restarts (they are in the node's storage). */
  const store = range(n).map(() => new Map<string, Block>())
  const history: Array<Array<{ from: number, message: RbcMessage, forged: boolean }>> = range(n).map(() => [])

  const violations: string[] = []
  const deliveries: DeliveryRecord[] = []
  const readyHashes = new Map<string, Set<string>>()
  const echoHashes = new Map<string, Set<string>>()
  const stats: SimStats = { steps: 0, received: 0, duplicates: 0, delays: 0, forged: 0, forgedIgnored: 0, rejects: 0, fetches: 0, fetchesAnswered: 0, fetchesUnanswered: 0, junkBlocks: 0, equivocations: 0 }
  const pool: Event[] = []
  let step = 0
  const window = 30 * n

  const send = (from: number, to: number, message: RbcMessage, forged: boolean, notBefore = step): void => {
    history[to]?.push({ from, message, forged })
    pool.push({ kind: 'msg', from, to, message, forged, copies: 0, notBefore })
  }
  const voteId = (node: number, round: number, creator: Uint8Array, kind: string, hash: Uint8Array): string => `${node}|${round}|${toHex(creator)}|${kind}|${toHex(hash)}`
  const instId = (node: number, round: number, creator: Uint8Array): string => `${node}/${round}/${idx(creator)}`
  const knownBy = (node: number, round: number, creator: Uint8Array, hash: Uint8Array): Block | undefined =>
    machines[node]?.knownBlock(round, creator, hash) ?? store[node]?.get(`${round}/${toHex(creator)}/${toHex(hash)}`)

  // ---- the instances --------------------------------------------------------------------------
  const instances: InstanceInfo[] = []
  const creators = rng.shuffle(honest).slice(0, 3)
  const plan: Array<[number, number]> = [[1, creators[0] as number], [1, creators[1] as number], [2, creators[2] as number], [3, creators[0] as number]]
  const targets: Array<{ round: number, creator: Uint8Array, hashes: Uint8Array[] }> = []
  for (const [round, c] of plan) {
    const p = proposal(keys, keys[c] as NodeKey, round)
    instances.push({ round, creator: c, honest: true, hashes: [toHex(p.hash)] })
    targets.push({ round, creator: members[c] as Uint8Array, hashes: [p.hash] })
    pool.push({ kind: 'propose', node: c, p, notBefore: rng.int(5 * n) })
  }

  // ---- Byzantine scripts ----------------------------------------------------------------------
  const equivocations = byzantine.filter((b) => b.behaviour === 'equivocate').map(({ node }) => {
    const a = proposal(keys, keys[node] as NodeKey, 1, 1000)
    const b = proposal(keys, keys[node] as NodeKey, 1, 2000)
    instances.push({ round: 1, creator: node, honest: false, hashes: [toHex(a.hash), toHex(b.hash)] })
    targets.push({ round: 1, creator: members[node] as Uint8Array, hashes: [a.hash, b.hash] })
    return { node, a, b }
  })
  const later = (): number => rng.int(window)
  for (const { node, behaviour } of byzantine) {
    const me = keys[node] as NodeKey
    switch (behaviour) {
      case 'equivocate': {
        const { a, b } = equivocations.find((e) => e.node === node) as (typeof equivocations)[number]
        const recipients = rng.shuffle(honest)
        // how many honest nodes get block A: one, about half, or all but one (the last often lets A win)
        const split = Math.max(1, rng.pick([1, Math.floor(recipients.length / 2), recipients.length - 1]))
        for (const [i, to] of recipients.entries()) {
          const mine = i < split ? a : b
          send(node, to, mine.message, false, later())
          if (rng.chance(0.25)) send(node, to, (mine === a ? b : a).message, false, later()) // some see both
          // echo and READY one or both of the hashes, validly signed
          const votes = rng.chance(0.3) ? [a, b] : [rng.pick([a, b])]
          for (const v of votes) {
            send(node, to, { type: 'echo', round: 1, creator: me.publicKey, hash: v.hash }, false, later())
            send(node, to, readyMsg(me, 1, me.publicKey, v.hash), false, later())
          }
        }
        break
      }
      case 'forge': {
        for (const to of honest) {
          for (const t of targets) {
            const hash = rng.pick(t.hashes)
            const kind = rng.int(3)
            const signature = kind === 0
              ? (rng.pick(keys.filter((_, i) => i !== node))).sign(readySigningBytes(t.round, t.creator, hash)) // another member's key
              : kind === 1
                ? rng.bytes(64) // garbage
                : me.sign(readySigningBytes(t.round + 1, t.creator, hash)) // own key, other round
            send(node, to, { type: 'ready', round: t.round, creator: t.creator, hash, signature }, true, later())
          }
          // and sometimes a correct ECHO and READY for a real hash (so it shows up among fetch sources)
          if (rng.chance(0.5)) {
            const t = rng.pick(targets)
            const hash = rng.pick(t.hashes)
            send(node, to, { type: 'echo', round: t.round, creator: t.creator, hash }, false, later())
            send(node, to, readyMsg(me, t.round, t.creator, hash), false, later())
          }
          // a PROPOSE of its own with someone else's signature, one with garbage, and a relayed PROPOSE
          const other = rng.pick(keys.filter((_, i) => i !== node))
          send(node, to, proposal(keys, me, 7, 1000, other).message, true, later())
          const own = proposal(keys, me, 8)
          send(node, to, { ...own.message, signature: rng.bytes(64) }, true, later())
          const relayed = pool.find((e): e is Extract<Event, { kind: 'propose' }> => e.kind === 'propose')
          if (relayed != null) send(node, to, relayed.p.message, true, later())
        }
        break
      }
      case 'unknown-hash': {
        const extra = { round: 40 + rng.int(10), creator: members[rng.int(n)] as Uint8Array }
        for (const to of honest) {
          for (const t of [...targets, extra]) {
            send(node, to, readyMsg(me, t.round, t.creator, rng.bytes(32)), false, later())
            send(node, to, { type: 'echo', round: t.round, creator: t.creator, hash: rng.bytes(32) }, false, later())
          }
        }
        break
      }
      case 'silent':
        break
    }
  }

  // ---- effects of honest nodes ----------------------------------------------------------------
  const process = (node: number, effects: readonly Effect[]): void => {
    for (const e of effects) {
      switch (e.type) {
        case 'persist-vote': {
          const { round, creator, kind, hash } = e.vote
          for (const v of persisted[node] ?? []) {
            if (v.round === round && equalBytes(v.creator, creator) && v.kind === kind && !equalBytes(v.hash, hash)) {
              violations.push(`node ${node} persisted ${kind} votes for two hashes of ${round}/${idx(creator)}`)
            }
          }
          persisted[node]?.push(e.vote)
          durable[node]?.add(voteId(node, round, creator, kind, hash))
          break
        }
        case 'broadcast': {
          const msg = e.message
          if (msg.type !== 'propose') {
            if (!(durable[node]?.has(voteId(node, msg.round, msg.creator, msg.type, msg.hash)) ?? false)) {
              violations.push(`node ${node} broadcast ${msg.type} for ${msg.round}/${idx(msg.creator)} before persisting it`)
            }
            const map = msg.type === 'ready' ? readyHashes : echoHashes
            const id = instId(node, msg.round, msg.creator)
            map.set(id, (map.get(id) ?? new Set()).add(toHex(msg.hash)))
            if (msg.type === 'ready' && !verifySignature(members[node] as Uint8Array, readySigningBytes(msg.round, msg.creator, msg.hash), msg.signature)) {
              violations.push(`node ${node} sent a READY with a bad signature`)
            }
          }
          for (const to of honest) if (to !== node) send(node, to, msg, false)
          break
        }
        case 'deliver': {
          const { round, creator } = e.block.header
          const computed = checkedBlockHash(e.block)
          if (computed == null || !equalBytes(computed, e.hash)) violations.push(`node ${node} delivered a block that does not hash to the delivered hash`)
          if (e.signatures.length < q) violations.push(`node ${node} delivered with ${e.signatures.length} < q signatures`)
          deliveries.push({ step, node, incarnation: incarnation[node] as number, round, creator: idx(creator), hash: toHex(e.hash), block: e.block, signatures: e.signatures })
          store[node]?.set(`${round}/${toHex(creator)}/${toHex(e.hash)}`, e.block)
          break
        }
        case 'fetch': {
          stats.fetches++
          if (e.from.some((k) => equalBytes(k, members[node] as Uint8Array) || idx(k) < 0)) violations.push(`node ${node} fetch names itself or a non-member`)
          pool.push({ kind: 'fetch', node, incarnation: incarnation[node] as number, round: e.round, creator: e.creator, hash: e.hash, from: e.from, junkTried: false, notBefore: step + 1 + rng.int(10 * n) })
          break
        }
        case 'equivocation': {
          stats.equivocations++
          const c = idx(e.creator)
          if (!equivocations.some((x) => x.node === c)) violations.push(`node ${node} reported equivocation by ${c}, which did not equivocate`)
          for (const p of [e.first, e.second]) {
            if (!verifySignature(e.creator, proposalSigningBytes(e.round, e.creator, p.hash), p.signature)) violations.push(`node ${node} equivocation evidence with a bad signature`)
          }
          if (equalBytes(e.first.hash, e.second.hash)) violations.push(`node ${node} equivocation evidence with one hash`)
          break
        }
        case 'reject':
          stats.rejects++
          break
      }
    }
  }

  // ---- crash-restart --------------------------------------------------------------------------
  const crashNode = options.crash == null ? -1 : rng.pick(honest)
  const crashAfter = options.crash == null ? -1 : 10 + rng.int(3 * n * n)
  let crash: SimResult['crash']
  const doCrash = (): void => {
    const node = crashNode
    incarnation[node] = (incarnation[node] as number) + 1
    // what the engine restores: the persisted votes, and the decided instances (stored with their blocks)
    const decided = deliveries.filter((d) => d.node === node).map((d) => ({ round: d.round, creator: members[d.creator] as Uint8Array, hash: fromHex(d.hash, 32) as Uint8Array }))
    machines[node] = newMachine(keys, node, [...(persisted[node] ?? [])], decided)
    const dropped: Array<Extract<Event, { kind: 'msg' }>> = []
    for (let i = pool.length - 1; i >= 0; i--) {
      const e = pool[i] as Event
      if ((e.kind === 'msg' && e.to === node) || (e.kind === 'fetch' && e.node === node)) {
        if (e.kind === 'msg') dropped.push(e)
        pool.splice(i, 1)
      }
    }
    const resend = options.crash === 'all' ? [...(history[node] ?? [])] : dropped.reverse().map((e) => ({ from: e.from, message: e.message, forged: e.forged }))
    for (const r of resend) pool.push({ kind: 'msg', from: r.from, to: node, message: r.message, forged: r.forged, copies: 0, notBefore: step + rng.int(window) })
    crash = { node, step, dropped: dropped.length, resent: resend.length, persistedVotes: persisted[node]?.length ?? 0 }
  }

  // ---- the scheduler --------------------------------------------------------------------------
  const remove = (i: number): void => {
    pool[i] = pool[pool.length - 1] as Event
    pool.pop()
  }
  let drained = true
  while (pool.length > 0) {
    step++
    if (step > MAX_STEPS) {
      drained = false
      violations.push(`no drain after ${MAX_STEPS} steps (${pool.length} events in flight)`)
      break
    }
    // crash once it has seen some traffic and persisted at least one vote (so the restart has state to recover)
    if (crash == null && crashNode >= 0 && stats.received >= crashAfter && (persisted[crashNode]?.length ?? 0) > 0) doCrash()
    const i = rng.int(pool.length)
    const ev = pool[i] as Event
    if (ev.notBefore > step) continue
    if (ev.kind === 'msg' && rng.chance(0.1)) { // delay: leave it for later
      ev.notBefore = step + 1 + rng.int(window)
      stats.delays++
      continue
    }
    switch (ev.kind) {
      case 'propose': {
        remove(i)
        process(ev.node, (machines[ev.node] as RbcMachine).propose(ev.p.block, ev.p.hash, ev.p.signature))
        break
      }
      case 'msg': {
        const m = machines[ev.to] as RbcMachine
        // a message for an instance this node has settled (delivered or closed) is ignored unread
        const settled = ev.message.type !== 'propose' && m.settled(ev.message.round, ev.message.creator)
        const effects = m.receive(members[ev.from] as Uint8Array, ev.message)
        stats.received++
        const rejects = effects.filter((e) => e.type === 'reject').length
        if (ev.forged) {
          stats.forged++
          if (settled) stats.forgedIgnored++
          if (settled ? effects.length !== 0 : (rejects !== 1 || effects.length !== 1)) violations.push(`node ${ev.to}: forged ${ev.message.type} from ${ev.from} gave [${effects.map((e) => e.type).join(',')}], not one reject`)
        } else if (rejects > 0) {
          violations.push(`node ${ev.to}: a well-formed ${ev.message.type} from ${ev.from} was rejected`)
        }
        process(ev.to, effects)
        if (ev.copies < 3 && rng.chance(0.08)) { // duplicate: deliver again later
          ev.copies++
          stats.duplicates++
        } else {
          remove(i)
        }
        break
      }
      case 'fetch': {
        if (ev.incarnation !== incarnation[ev.node]) { remove(i); break }
        const m = machines[ev.node] as RbcMachine
        if (!ev.junkTried) {
          ev.junkTried = true
          if (ev.from.some((k) => isByz.has(idx(k)))) { // a Byzantine member answers first, with a block nobody voted for
            stats.junkBlocks++
            const junk = makeBlock(keys, keys[idx(ev.creator)] as NodeKey, ev.round, 5000 + rng.int(1_000_000))
            const effects = m.blockContent(junk)
            if (effects.length > 0) violations.push(`node ${ev.node} acted on an unwanted block: [${effects.map((e) => e.type).join(',')}]`)
          }
        }
        const knowers = honest.filter((h) => h !== ev.node && knownBy(h, ev.round, ev.creator, ev.hash) != null)
        if (knowers.length > 0) {
          remove(i)
          stats.fetchesAnswered++
          const block = knownBy(rng.pick(knowers), ev.round, ev.creator, ev.hash) as Block
          process(ev.node, m.blockContent(block))
        } else if (pool.some((e) => e.kind !== 'fetch')) {
          ev.notBefore = step + 1 + rng.int(10 * n) // nobody honest has it yet: retry later
        } else {
          remove(i)
          stats.fetchesUnanswered++
        }
        break
      }
    }
  }
  stats.steps = step

  const log = deliveries.map((d) => `${d.step}:${d.node}.${d.incarnation}:${d.round}/${d.creator}:${d.hash}`).join('\n') + '\n' + JSON.stringify(stats)
  return { options, n, f, q, members, honest, byzantine, instances, deliveries, readyHashes, echoHashes, violations, drained, crash, stats, log }
}
