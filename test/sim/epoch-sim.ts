/**
 * The rewards epoch at scale, in one process over the simulated network of net-model.ts: every
 * member's real RbcMachine (src/broadcast/machine.ts), real reports and blocks (their bytes from
 * the project's encoders), and the proposer rule of src/rewards/epoch-pipeline.ts with its rank
 * and stagger from src/rewards/proposer-timing.ts. Two designs:
 *
 *   ours         staggered proposers: the epoch's leader proposes at its report threshold, rank k
 *                after fallbackDelay (k·δ, or longer once the leader's report is here) unless it
 *                has echoed another member's block (then N·δ more) or has a block delivered;
 *                δ = ProposerTiming.stagger, sampled whenever the leader's block is delivered
 *                (each node's samples carry over the epochs of a run)
 *   all-propose  Ephemera's design: every member proposes its own block at its report threshold,
 *                and every block goes through RBC (the same machine, N instances)
 *
 * Time 0 is the epoch's end with every report computed (computing is the same in both designs).
 * A node's work is serial (net-model.ts SerialNodes) and costs what sim-costs.ts measured.
 */
import type { Block, ClientMessage } from '../../src/block/types.js'
import { RbcMachine, thresholds, type Effect, type RbcMessage } from '../../src/broadcast/machine.js'
import { toHex } from '../../src/codec/bytes.js'
import type { NodeKey } from '../../src/crypto/keys.js'
import { environmentWithEpoch } from '../../src/epochs/environment.js'
import { epochLeader, fallbackDelay, proposerRank, ProposerTiming } from '../../src/rewards/proposer-timing.js'
import { rbcCrypto, testKeys } from '../helpers/rbc-fixtures.js'
import { fetchRequestBytes, fetchResponseBytes, makeProposal, makeReport, modelledCrypto, rbcFrameBytes, reportBytes, simParameters } from './epoch-fixtures.js'
import { EventQueue, SerialNodes, SimNetwork, type NetworkModel } from './net-model.js'
import { Rng } from './rbc-sim.js'
import type { CostModel } from './sim-costs.js'

export type Design = 'ours' | 'all-propose'

export interface EpochSimOptions {
  n: number
  mixnodes: number
  design: Design
  network: NetworkModel
  costs: CostModel
  /** Epoch length: the proposer stagger floor (10 %) and the epoch deadline (3 epochs) follow it. */
  epochMs: number
  /** Epochs run one after another (1, 2, …): the leader rotates, each node's stagger samples carry over. */
  epochs: number
  seed: number
  /** 'modelled' (default): stand-in signatures, their measured cost charged; 'real': Ed25519 in the machines too. */
  crypto?: 'modelled' | 'real'
  /** The epoch's leader is down: it sends nothing, receives nothing. */
  leaderDown?: boolean
  /** The epoch's leader is late: it signs its report `reportMs` after the epoch's end, and proposes no sooner than `proposeMs`. */
  leaderLate?: { reportMs: number, proposeMs: number }
}

export interface Traffic { messages: number, bytes: number }

export interface EpochSimResult {
  epoch: number
  design: Design
  n: number
  live: number
  /** Blocks proposed (RBC instances). */
  proposals: number
  /** The largest proposer stagger δ a live node used this epoch (ms). */
  staggerMs: number
  rbc: Record<'propose' | 'echo' | 'ready' | 'fetch', Traffic> & { total: Traffic }
  reports: Traffic
  /** ms from the epoch's end until the first node holds a certified block it would submit (ours: any; all-propose: its own). */
  firstMs: number | undefined
  /** … until a quorum (q) of the live nodes do. */
  quorumMs: number | undefined
  /** … until every live node does. */
  readyMs: number | undefined
  /** … until every block proposed is delivered at every live node. */
  drainMs: number | undefined
  /** The busiest node's serial work, ms. */
  busiestMs: number
  steps: number
  problems: string[]
  /** Canonical delivery log, for determinism checks. */
  log: string
}

type Wire =
  | { kind: 'report', sender: number, message: ClientMessage }
  | { kind: 'rbc', message: RbcMessage }
  | { kind: 'fetch-req', round: number, creator: Uint8Array, hash: Uint8Array, fetchId: number }
  | { kind: 'fetch-res', block: Block | undefined, fetchId: number }

interface NodeState {
  pool: Map<number, ClientMessage>
  thresholdAt?: number
  echoedAt?: number
  deliveredAt?: number
  ownDeliveredAt?: number
  /** Waiting: 'A' for its rank's turn, 'B' for an echoed block; undefined otherwise. */
  phase?: 'A' | 'B'
  timer: number
  /** When its rank's wait began (its threshold), while in phase A. */
  rankFrom?: number
  stagger: number
  store: Map<string, Block>
}

interface Fetch { id: number, node: number, round: number, creator: Uint8Array, hash: Uint8Array, candidates: number[], next: number, attempt: number }

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)
const US = 1 / 1000

/** Runs `epochs` epochs of one design at one N; every number is virtual, every choice seeded. */
export function runEpochs (o: EpochSimOptions): EpochSimResult[] {
  const keys = testKeys(o.n)
  const timings = keys.map(() => new ProposerTiming())
  const rng = new Rng(o.seed)
  return range(o.epochs).map((i) => runEpoch(o, i + 1, keys, timings, rng))
}

function runEpoch (o: EpochSimOptions, epoch: number, keys: readonly NodeKey[], timings: readonly ProposerTiming[], rng: Rng): EpochSimResult {
  const { n, costs } = o
  const { q } = thresholds(n)
  const env = environmentWithEpoch('development', o.epochMs)
  const members = keys.map((k) => k.publicKey)
  const hex = members.map(toHex)
  const indexOf = new Map(hex.map((h, i) => [h, i]))
  const idx = (key: Uint8Array): number => indexOf.get(toHex(key)) as number
  const leader = indexOf.get(epochLeader(hex, epoch) as string) as number
  const down = new Set(o.leaderDown === true ? [leader] : [])
  const live = range(n).filter((i) => !down.has(i))
  const shared = modelledCrypto()
  const machines = range(n).map((i) => new RbcMachine({ members, self: members[i] as Uint8Array, crypto: o.crypto === 'real' ? rbcCrypto(keys[i] as NodeKey) : shared }))
  const parameters = simParameters(o.mixnodes, q)
  const reports = keys.map((k) => makeReport(k, epoch, parameters, rng))
  const perReport = (block: Block): number => block.messages.length / costs.blockReports
  const st: NodeState[] = range(n).map(() => ({ pool: new Map(), timer: 0, stagger: env.proposerStaggerMs, store: new Map() }))

  const queue = new EventQueue()
  const cpu = new SerialNodes(n)
  const problems: string[] = []
  const log: string[] = []
  const traffic = { propose: { messages: 0, bytes: 0 }, echo: { messages: 0, bytes: 0 }, ready: { messages: 0, bytes: 0 }, fetch: { messages: 0, bytes: 0 } }
  const reportTraffic = { messages: 0, bytes: 0 }
  /** creator → delivery time per node */
  const deliveries = new Map<number, Map<number, number>>()
  const fetches: Fetch[] = []
  let proposals = 0

  const net = new SimNetwork<Wire>(n, o.network, rng, queue, (from, to, w, at) => { if (!down.has(to)) arrive(from, to, w, at) })
  const send = (from: number, to: number, w: Wire, bytes: number, count: Traffic): void => {
    if (down.has(to)) return
    count.messages++
    count.bytes += bytes
    net.send(from, to, w, bytes)
  }
  const broadcast = (from: number, message: RbcMessage): void => {
    const bytes = rbcFrameBytes(message)
    const w: Wire = { kind: 'rbc', message }
    for (let to = 0; to < n; to++) if (to !== from) send(from, to, w, bytes, traffic[message.type])
  }

  // ---- reports: each member signs its report and sends it to every member (gossipsub's flood publish)
  const addReport = (node: number, sender: number, message: ClientMessage, t: number): void => {
    const s = st[node] as NodeState
    if (s.pool.has(sender)) return
    s.pool.set(sender, message)
    if (s.pool.size === q) queue.at(t, () => { onThreshold(node, t) })
    // the leader's report: it is alive, and a member waiting for its rank gives it longer
    if (sender === leader && s.phase === 'A' && s.rankFrom != null) waitForRank(node, s.rankFrom)
  }
  const late = o.leaderLate ?? { reportMs: 0, proposeMs: 0 }
  for (const i of live) {
    const t = cpu.start(i, i === leader ? late.reportMs : 0) + costs.signUs * US
    cpu.done(i, 0, t)
    addReport(i, i, reports[i] as ClientMessage, t)
    queue.at(t, () => {
      const message = reports[i] as ClientMessage
      const w: Wire = { kind: 'report', sender: i, message }
      for (let to = 0; to < n; to++) if (to !== i) send(i, to, w, reportBytes(message), reportTraffic)
    })
  }

  // ---- the proposer rule (epoch-pipeline.ts)
  const isDelivered = (node: number, t: number): boolean => (st[node]?.deliveredAt ?? Infinity) <= t
  const later = (node: number, at: number, phase: 'A' | 'B', action: () => void): void => {
    const s = st[node] as NodeState
    const token = ++s.timer
    s.phase = phase
    queue.at(at, () => { if (s.timer === token) { s.phase = undefined; action() } })
  }
  const waitForEchoed = (node: number, t: number): void => {
    later(node, t + n * (st[node] as NodeState).stagger, 'B', () => { if (!isDelivered(node, queue.now)) propose(node, queue.now) })
  }
  const waitForRank = (node: number, from: number): void => {
    const s = st[node] as NodeState
    s.rankFrom = from
    const rank = proposerRank(hex, hex[node] as string, epoch)
    const delay = rank === 0 ? Math.max(0, late.proposeMs - from) : fallbackDelay(rank, s.stagger, s.pool.has(leader), env.epochDeadlineMs)
    later(node, from + delay, 'A', () => { if (!isDelivered(node, queue.now)) propose(node, queue.now) })
  }
  function onThreshold (node: number, t: number): void {
    const s = st[node] as NodeState
    s.thresholdAt = t
    if (o.design === 'all-propose') {
      propose(node, t)
      return
    }
    if (isDelivered(node, t)) return
    s.stagger = (timings[node] as ProposerTiming).stagger(env.proposerStaggerMs, env.epochDeadlineMs)
    if ((s.echoedAt ?? Infinity) <= t) {
      waitForEchoed(node, t)
      return
    }
    waitForRank(node, t)
  }
  function onEchoed (node: number, t: number): void {
    const s = st[node] as NodeState
    if (o.design === 'ours' && s.phase === 'A' && !isDelivered(node, t)) waitForEchoed(node, t)
  }

  function propose (node: number, now: number): void {
    const s = st[node] as NodeState
    const start = cpu.start(node, now)
    const p = makeProposal(members, keys[node] as NodeKey, epoch, [...s.pool.values()])
    proposals++
    // build (Merkle root), sign, and store it synced before sending
    const t = start + (costs.blockHashUs * perReport(p.block) + costs.signUs + costs.persistUs) * US
    finish(node, start, machines[node]?.propose(p.block, p.hash, p.signature) ?? [], t)
  }

  // ---- a node's serial work: the machine's effects, each at its cost
  function finish (node: number, start: number, effects: readonly Effect[], t0: number): void {
    const s = st[node] as NodeState
    let t = t0
    let echoedOther = false
    for (const e of effects) {
      switch (e.type) {
        case 'persist-vote':
          t += costs.persistUs * US
          break
        case 'broadcast': {
          const message = e.message
          if (message.type === 'ready') t += costs.signUs * US
          if (message.type === 'echo' && idx(message.creator) !== node) echoedOther = true
          queue.at(t, () => { broadcast(node, message) })
          break
        }
        case 'deliver': {
          t += costs.persistUs * US // the block and its certificate, one synced batch
          const creator = idx(e.block.header.creator)
          const at = t
          s.store.set(toHex(e.hash), e.block)
          const perNode = deliveries.get(creator) ?? new Map<number, number>()
          perNode.set(node, at)
          deliveries.set(creator, perNode)
          log.push(`${node}<${creator}:${toHex(e.hash).slice(0, 12)}@${at.toFixed(3)}`)
          if (creator === node) s.ownDeliveredAt = at
          // the leader's block, first or not: a sample of its RBC time (RewardsService.deliverBlock)
          if (o.design === 'ours' && creator === leader && s.thresholdAt != null && at - s.thresholdAt <= env.epochDeadlineMs) (timings[node] as ProposerTiming).record(at - s.thresholdAt)
          if (s.deliveredAt == null) {
            s.deliveredAt = at
            // the block's reports count as collected (RewardsService.deliverBlock)
            for (const m of e.block.messages) addReport(node, idx(m.publicKey), m, at)
          }
          break
        }
        case 'fetch':
          queue.at(t, () => { startFetch(node, e) })
          break
        case 'floor':
          break
        default:
          problems.push(`node ${node}: unexpected ${e.type} effect${'reason' in e ? ` (${e.reason})` : ''}`)
      }
    }
    cpu.done(node, start, t)
    if (echoedOther && s.echoedAt == null) {
      s.echoedAt = t
      queue.at(t, () => { onEchoed(node, t) })
    }
  }

  function arrive (from: number, to: number, w: Wire, at: number): void {
    const machine = machines[to] as RbcMachine
    const start = cpu.start(to, at)
    const s = st[to] as NodeState
    switch (w.kind) {
      case 'report': {
        const t = start + costs.reportCheckUs * US
        cpu.done(to, start, t)
        addReport(to, w.sender, w.message, t)
        return
      }
      case 'rbc': {
        const m = w.message
        let cost = costs.rbcStepUs
        if (m.type === 'propose') {
          const { round, creator } = m.block.header
          if (machine.wantsProposal(round, creator, m.hash)) {
            // checkBlock + checkRewardsBlock; reports not seen by gossip yet are verified now
            const unseen = m.block.messages.reduce((k, r) => k + (s.pool.has(idx(r.publicKey)) ? 0 : 1), 0)
            cost += costs.blockCheckUs * perReport(m.block) + unseen * costs.verifyUs
          }
          cost += costs.blockHashUs * perReport(m.block) + costs.verifyUs
        } else if (m.type === 'ready' && !machine.settled(m.round, m.creator)) {
          cost += costs.verifyUs
        }
        finish(to, start, machine.receive(members[from] as Uint8Array, m, true), start + cost * US)
        return
      }
      case 'fetch-req': {
        const block = machine.knownBlock(w.round, w.creator, w.hash) ?? s.store.get(toHex(w.hash))
        const t = start + costs.rbcStepUs * US
        cpu.done(to, start, t)
        queue.at(t, () => { send(to, from, { kind: 'fetch-res', block, fetchId: w.fetchId }, fetchResponseBytes(block), traffic.fetch) })
        return
      }
      case 'fetch-res': {
        const f = fetches[w.fetchId] as Fetch
        if (w.block == null) {
          cpu.done(to, start, start)
          tryFetch(f, queue.now)
          return
        }
        finish(to, start, machine.blockContent(w.block), start + costs.blockHashUs * perReport(w.block) * US)
      }
    }
  }

  // ---- block fetches (broadcast/fetcher.ts): ask the members that voted for the hash, one after another, then back off
  function startFetch (node: number, e: Extract<Effect, { type: 'fetch' }>): void {
    const f: Fetch = { id: fetches.length, node, round: e.round, creator: e.creator, hash: e.hash, candidates: [], next: 0, attempt: 0 }
    fetches.push(f)
    tryFetch(f, queue.now)
  }
  function tryFetch (f: Fetch, now: number): void {
    const machine = machines[f.node] as RbcMachine
    if (machine.settled(f.round, f.creator)) return
    const to = f.candidates[f.next++]
    if (to != null) {
      send(f.node, to, { kind: 'fetch-req', round: f.round, creator: f.creator, hash: f.hash, fetchId: f.id }, fetchRequestBytes(f.round, f.creator, f.hash), traffic.fetch)
      return
    }
    if (f.attempt >= 10) {
      problems.push(`node ${f.node}: could not fetch ${toHex(f.hash).slice(0, 12)}`)
      return
    }
    const delay = f.attempt === 0 ? 0 : 200 * 2 ** (f.attempt - 1)
    f.attempt++
    queue.at(now + delay, () => {
      f.candidates = machine.fetchCandidates(f.round, f.creator, f.hash).map(idx).filter((c) => !down.has(c))
      f.next = 0
      tryFetch(f, queue.now)
    })
  }

  // what is left at the deadline are timers that no longer act (their node has its block)
  queue.run(env.epochDeadlineMs)

  // ---- what the epoch cost and when each node had what it needs
  const needed = live.map((i) => (o.design === 'ours' ? st[i]?.deliveredAt : st[i]?.ownDeliveredAt) ?? Infinity).sort((a, b) => a - b)
  const finite = (x: number | undefined): number | undefined => (x == null || !Number.isFinite(x) ? undefined : x)
  let drainMs: number | undefined = 0
  for (const [creator, perNode] of deliveries) {
    const missing = live.filter((i) => !perNode.has(i))
    if (missing.length > 0) problems.push(`block of ${creator} not delivered at ${missing.join(',')}`)
    drainMs = Math.max(drainMs, ...perNode.values())
  }
  if (deliveries.size === 0) drainMs = undefined
  if (o.design === 'all-propose' && deliveries.size < live.length) problems.push(`${live.length - deliveries.size} proposals never delivered`)
  const total = Object.values(traffic).reduce((a, b) => ({ messages: a.messages + b.messages, bytes: a.bytes + b.bytes }), { messages: 0, bytes: 0 })
  return {
    epoch,
    design: o.design,
    n,
    live: live.length,
    proposals,
    staggerMs: Math.max(...live.map((i) => (st[i] as NodeState).stagger)),
    rbc: { ...traffic, total },
    reports: reportTraffic,
    firstMs: finite(needed[0]),
    quorumMs: finite(needed[q - 1]),
    readyMs: finite(needed[needed.length - 1]),
    drainMs: problems.length > 0 ? undefined : drainMs,
    busiestMs: Math.max(...cpu.busy),
    steps: queue.steps,
    problems,
    log: log.sort().join('\n')
  }
}
