/**
 * The CPU and storage costs the scale simulation charges each node's serial processor, measured on
 * this machine with the project's own code: Ed25519 through verifySignature / NodeKey (node:crypto),
 * the report and block checks a member runs before echoing (checkReportMessage, checkBlock,
 * checkRewardsBlock), the RbcMachine's own bookkeeping, and a synced LevelDB write (a vote must be
 * durable before it is sent). The simulation itself uses stand-in signatures and charges these
 * costs in virtual time, so that a run is deterministic and N = 100 fits in minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Level } from 'level'
import { membershipId, readySigningBytes } from '../../src/block/encoding.js'
import { RbcMachine } from '../../src/broadcast/machine.js'
import { toHex } from '../../src/codec/bytes.js'
import { verifySignature } from '../../src/crypto/keys.js'
import { checkBlock } from '../../src/block/validate.js'
import { checkReportMessage } from '../../src/epochs/report.js'
import { checkRewardsBlock } from '../../src/rewards/block-check.js'
import { checkedBlockHash, testKey, testKeys } from '../helpers/rbc-fixtures.js'
import { makeProposal, makeReport, modelledCrypto, simParameters } from './epoch-fixtures.js'
import { Rng } from './rbc-sim.js'

/** Costs in µs of one node's work; block costs are for a block of `blockReports` reports and scale linearly. */
export interface CostModel {
  /** Ed25519 verification of a signature not seen before (verifySignature, node:crypto). */
  verifyUs: number
  /** Ed25519 signature (NodeKey.sign): a READY, a proposal. */
  signUs: number
  /** checkReportMessage of a gossiped report (its signature verified). */
  reportCheckUs: number
  /** checkBlock + checkRewardsBlock of a proposed block whose reports this node already verified. */
  blockCheckUs: number
  /** checkedBlockHash of a block (Merkle root and header hash): the machine's own check, also building a block. */
  blockHashUs: number
  blockReports: number
  /** RbcMachine.receive of an ECHO or READY, its bookkeeping (the READY's verification is verifyUs). */
  rbcStepUs: number
  /** A synced write: a vote before it is sent, a block when delivered, an own proposal. */
  persistUs: number
}

/** Fixed costs for the fast tests (deterministic across machines); of the order measured on the 2-core machine. */
export const FIXED_COSTS: CostModel = { verifyUs: 60, signUs: 30, reportCheckUs: 80, blockCheckUs: 1_000, blockHashUs: 300, blockReports: 10, rbcStepUs: 5, persistUs: 500 }

/**
 * Per-operation time in µs of `op`: the fastest of `rounds` batches of `batch` calls (the batch
 * least disturbed by other work on a shared machine).
 */
function timeUs (op: (i: number) => void, batch: number, rounds = 5): number {
  const samples: number[] = []
  let i = 0
  for (let r = 0; r < rounds; r++) {
    const t = performance.now()
    for (let k = 0; k < batch; k++) op(i++)
    samples.push((performance.now() - t) * 1000 / batch)
  }
  return Math.min(...samples)
}

const round2 = (us: number): number => Number(us.toPrecision(2))

/** Signature, report-check and machine costs (independent of N). */
export function measureCrypto (mixnodes: number): Pick<CostModel, 'verifyUs' | 'signUs' | 'reportCheckUs' | 'rbcStepUs'> {
  const rng = new Rng(7)
  const key = testKey(0, 9)
  // fresh messages: verifySignature caches successes, so every call here is a real verification
  const messages = Array.from({ length: 1_000 }, (_, i) => readySigningBytes(i + 1, key.publicKey, rng.bytes(32)))
  const signatures = messages.map((m) => key.sign(m))
  const verifyUs = timeUs((i) => { verifySignature(key.publicKey, messages[i] as Uint8Array, signatures[i] as Uint8Array) }, 200)
  const signUs = timeUs((i) => { key.sign(messages[i % messages.length] as Uint8Array) }, 200)
  const keys = testKeys(20, 9)
  const parameters = simParameters(mixnodes, 14)
  const committee = new Set(keys.map((k) => toHex(k.publicKey)))
  const reports = Array.from({ length: 250 }, (_, i) => makeReport(keys[i % keys.length] as (typeof keys)[number], 10_000 + i, parameters, rng))
  const reportCheckUs = timeUs((i) => {
    const r = reports[i] as (typeof reports)[number]
    checkReportMessage(r, { epoch: 10_000 + i, committee, parameters, verify: verifySignature })
  }, 50)
  return { verifyUs: round2(verifyUs), signUs: round2(signUs), reportCheckUs: round2(reportCheckUs), rbcStepUs: round2(measureRbcStep()) }
}

/** RbcMachine.receive per ECHO / READY (stand-in signatures), in full instances of 16 members. */
function measureRbcStep (): number {
  const n = 16
  const keys = testKeys(n, 8)
  const members = keys.map((k) => k.publicKey)
  const machine = new RbcMachine({ members, self: members[0] as Uint8Array, crypto: modelledCrypto() })
  const rng = new Rng(3)
  const parameters = simParameters(10, 11)
  const report = makeReport(keys[1] as (typeof keys)[number], 1, parameters, rng)
  let elapsed = 0
  let calls = 0
  for (let round = 1; round <= 300; round++) {
    const creator = keys[1 + (round % (n - 1))] as (typeof keys)[number]
    const p = makeProposal(members, creator, round, [report])
    machine.receive(creator.publicKey, { type: 'propose', ...p })
    const t = performance.now()
    for (const k of keys.slice(1)) machine.receive(k.publicKey, { type: 'echo', round, creator: creator.publicKey, hash: p.hash })
    for (const k of keys.slice(1)) machine.receive(k.publicKey, { type: 'ready', round, creator: creator.publicKey, hash: p.hash, signature: new Uint8Array(64) })
    elapsed += performance.now() - t
    calls += 2 * (n - 1)
  }
  return elapsed * 1000 / calls
}

/**
 * The checks of a block of n reports of `mixnodes` values (their signatures already verified, as
 * after gossip). Both are linear in the reports (a hash, a decode and a cached verification each),
 * so one size serves every N.
 */
export function measureBlock (mixnodes: number, n = 20): Pick<CostModel, 'blockCheckUs' | 'blockHashUs' | 'blockReports'> {
  const rng = new Rng(11)
  const keys = testKeys(n, 7)
  const members = keys.map((k) => k.publicKey)
  const committee = new Set(members.map(toHex))
  const parameters = simParameters(mixnodes, n - Math.floor((n - 1) / 3))
  const reports = keys.map((k) => makeReport(k, 5, parameters, rng))
  for (const r of reports) checkReportMessage(r, { epoch: 5, committee, parameters, verify: verifySignature })
  const { block } = makeProposal(members, keys[0] as (typeof keys)[number], 5, reports)
  const id = membershipId(members)
  const blockCheckUs = timeUs(() => {
    if (checkBlock(block, { members: committee, membershipId: id, verify: verifySignature }) != null) throw new Error('the measured block is invalid')
    if (!checkRewardsBlock(block, { parameters, committee, threshold: parameters.rewardsThreshold }).accept) throw new Error('the measured block is not a rewards block')
  }, 3, 9)
  const blockHashUs = timeUs(() => { checkedBlockHash(block) }, 5, 9)
  return { blockCheckUs: round2(blockCheckUs), blockHashUs: round2(blockHashUs), blockReports: n }
}

/** A synced put of a vote-sized value in a fresh LevelDB under the OS temp dir (median of `count`). */
export async function measurePersist (count = 60): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'ephemera-sim-'))
  const db = new Level<string, Uint8Array>(join(dir, 'db'), { valueEncoding: 'view' })
  try {
    await db.open()
    const value = new Uint8Array(80)
    const samples: number[] = []
    for (let i = 0; i < count; i++) {
      const t = performance.now()
      await db.put(`vote:${i}`, value, { sync: true })
      samples.push((performance.now() - t) * 1000)
    }
    return round2(samples.sort((a, b) => a - b)[Math.floor(count / 2)] as number)
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
}
