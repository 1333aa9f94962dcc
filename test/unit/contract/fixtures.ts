/**
 * Real submissions for the coordinator tests: member reports signed with reportMessage, a block
 * built from them (sorted by public key), READY signatures, and the SubmissionJson built by the
 * same functions the nodes use (consensusSubmission / standaloneSubmission in src/contract/record.ts). Plus an in-memory
 * CoordinatorStore that round-trips records through JSON like the level store does.
 */
import { blockHash, buildBlock, membershipId, readySigningBytes } from '../../../src/block/encoding.js'
import type { Block, Certificate, ClientMessage } from '../../../src/block/types.js'
import { compareBytes, toHex } from '../../../src/codec/bytes.js'
import { committeeOf } from '../../../src/epochs/committee.js'
import { consensusSubmission as buildConsensusSubmission, standaloneSubmission as buildStandaloneSubmission, type CommitteeMemberJson, type EpochRecordJson, type ParametersJson, type SubmissionJson } from '../../../src/epochs/record.js'
import type { CoordinatorStore, GenesisRound, StoredEvidence } from '../../../src/contract/store.js'
import type { MembershipJson } from '../../../src/contract/membership.js'
import type { RoundState } from '../../../src/contract/round.js'
import type { NodeKey } from '../../../src/crypto/keys.js'
import { MISSING, mixnodeSetId, parametersId, reportMessage } from '../../../src/epochs/report.js'
import { key, members } from '../block/fixtures.js'
import { expect } from 'vitest'
import { EphemeraError, type ErrorCodeValue } from '../../../src/util/errors.js'

export const MIXNODES = 20
export const KEYS: NodeKey[] = members(4)
export const OUTSIDER: NodeKey = key(0x99)
export const MEMBERS = KEYS.map((k, i) => ({ name: `node${i + 1}`, peerId: k.peerId.toString(), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))
export const COMMITTEE = committeeOf(MEMBERS)
export const PARAMETERS: ParametersJson = {
  mixnodes: MIXNODES,
  mixnodeSetId: toHex(mixnodeSetId(MIXNODES)),
  aggregation: 'median',
  trimPermille: 200,
  minValues: 2,
  rewardPool: '1000000',
  rewardsThreshold: 3
}

/** The committee entry of KEYS[i] (committeeOf keeps the input order). */
export function member (i: number): CommitteeMemberJson {
  return COMMITTEE.members[i] as CommitteeMemberJson
}

/** Deterministic values of member i for an epoch; mixnode 19 has a value only from member 3 (insufficient with minValues 2). */
export function reportValues (epoch: number, i: number): Uint16Array {
  const values = new Uint16Array(MIXNODES)
  for (let j = 0; j < MIXNODES; j++) {
    if (j === MIXNODES - 1 && i < 3) values[j] = MISSING
    else if ((i + j) % 7 === 0) values[j] = MISSING
    else values[j] = (1000 + 397 * j + 61 * i * j + 13 * i + epoch) % 10_001
  }
  return values
}

export function memberReport (epoch: number, i: number, opts: { values?: Uint16Array, timestamp?: number, reportEpoch?: number, keys?: NodeKey[], parameters?: ParametersJson } = {}): ClientMessage {
  const k = (opts.keys ?? KEYS)[i] as NodeKey
  return reportMessage(
    { version: 2, epoch: opts.reportEpoch ?? epoch, sender: k.publicKey, commitment: parametersId(opts.parameters ?? PARAMETERS), values: opts.values ?? reportValues(epoch, i % 4) },
    (b) => k.sign(b),
    opts.timestamp ?? 1_700_000_000_000 + epoch * 1000 + i
  )
}

export interface ConsensusOptions {
  epoch: number
  /** Members whose reports are in the block (default all four). */
  reporters?: number[]
  /** Replace the messages entirely (still sorted by public key). */
  messages?: ClientMessage[]
  /** Members signing READY (default all four). */
  signers?: number[]
  /** Further READY signers (e.g. a non-member). */
  extraSigners?: NodeKey[]
  creator?: number
  /** Block round (default the epoch). */
  round?: number
  parameters?: ParametersJson
  /** The committee's keys (default KEYS): reporters, signers and creator index into it. */
  keys?: NodeKey[]
  /** The parameters the reports commit to (default PARAMETERS). */
  reportParameters?: ParametersJson
}

export interface BuiltSubmission {
  submission: SubmissionJson
  block: Block
  messages: ClientMessage[]
  hash: Uint8Array
  certificate: Certificate
}

export function consensusSubmission (opts: ConsensusOptions): BuiltSubmission {
  const epoch = opts.epoch
  const round = opts.round ?? epoch
  const keys = opts.keys ?? KEYS
  const all = keys.map((_k, i) => i)
  const creator = keys[opts.creator ?? 0] as NodeKey
  const messages = (opts.messages ?? (opts.reporters ?? all).map((i) => memberReport(epoch, i, { keys, ...(opts.reportParameters != null ? { parameters: opts.reportParameters } : {}) })))
    .slice().sort((a, b) => compareBytes(a.publicKey, b.publicKey))
  const block = buildBlock({ round, creator: creator.publicKey, height: 1, createdAt: 1_700_000_100_000 + epoch, membershipId: membershipId(keys.map((k) => k.publicKey)) }, messages)
  const hash = blockHash(block.header)
  const payload = readySigningBytes(round, creator.publicKey, hash)
  const signerKeys = [...(opts.signers ?? all).map((i) => keys[i] as NodeKey), ...(opts.extraSigners ?? [])]
  const certificate: Certificate = { round, creator: creator.publicKey, blockHash: hash, signatures: signerKeys.map((k) => ({ signer: k.publicKey, signature: k.sign(payload) })) }
  const submission = buildConsensusSubmission({ block, hash, certificate }, opts.parameters ?? PARAMETERS)
  return { submission, block, messages, hash, certificate }
}

/** A standalone submission: member i's own report, rewards with minValues 1. */
export function standaloneSubmission (epoch: number, i: number): SubmissionJson {
  return buildStandaloneSubmission(memberReport(epoch, i), PARAMETERS)
}

export function clone<T> (value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** Replaces the hex digit at `at` with a different one. */
export function flipHexDigit (hex: string, at = 0): string {
  const c = hex[at] as string
  return hex.slice(0, at) + (c === '0' ? '1' : '0') + hex.slice(at + 1)
}

const yieldTurn = async (): Promise<void> => { await new Promise<void>((resolve) => setImmediate(resolve)) }

/**
 * In-memory CoordinatorStore. Every call yields to the event loop first (as real I/O does), so
 * unserialised callers would interleave; records are stored as JSON text like the level store.
 */
export class MemoryStore implements CoordinatorStore {
  genesisMs: number | undefined
  storedEpochMs: number | undefined
  setGenesisCalls = 0
  readonly byEpoch = new Map<number, string>()
  readonly nonces = new Map<string, number>()
  /** epoch → the round as stored (JSON, so nothing is shared with the coordinator's copy) */
  readonly rounds = new Map<number, string>()
  pruneCalls: number[] = []

  genesis0: GenesisRound | undefined

  async genesisRound (): Promise<GenesisRound | undefined> {
    await yieldTurn()
    return this.genesis0
  }

  async setGenesisRound (round: GenesisRound): Promise<void> {
    await yieldTurn()
    this.genesis0 = round
  }

  async openRounds (): Promise<RoundState[]> {
    await yieldTurn()
    return [...this.rounds.values()].map((raw) => JSON.parse(raw) as RoundState).filter((r) => r.status === 'open')
  }

  async round (epoch: number): Promise<RoundState | undefined> {
    await yieldTurn()
    const raw = this.rounds.get(epoch)
    return raw == null ? undefined : JSON.parse(raw) as RoundState
  }

  async saveRound (round: RoundState): Promise<void> {
    // the round as it is at the call, as the level store's batch is built at the call
    const json = JSON.stringify(round)
    await yieldTurn()
    this.rounds.set(round.epoch, json)
  }

  async commitRound (record: EpochRecordJson, round: RoundState, membership?: MembershipJson): Promise<void> {
    await yieldTurn()
    this.byEpoch.set(record.epoch, JSON.stringify(record))
    this.rounds.delete(round.epoch)
    if (membership != null) this.membershipJson = JSON.stringify(membership)
  }

  membershipJson: string | undefined
  readonly evidenceByHash = new Map<string, string>()

  async membership (): Promise<MembershipJson | undefined> {
    await yieldTurn()
    return this.membershipJson == null ? undefined : JSON.parse(this.membershipJson) as MembershipJson
  }

  async saveMembership (membership: MembershipJson, evidence: { add?: StoredEvidence, remove?: readonly string[] } = {}): Promise<void> {
    await yieldTurn()
    this.membershipJson = JSON.stringify(membership)
    if (evidence.add != null) this.evidenceByHash.set(evidence.add.hash, JSON.stringify(evidence.add))
    for (const hash of evidence.remove ?? []) this.evidenceByHash.delete(hash)
  }

  async evidence (hash: string): Promise<StoredEvidence | undefined> {
    await yieldTurn()
    const raw = this.evidenceByHash.get(hash)
    return raw == null ? undefined : JSON.parse(raw) as StoredEvidence
  }

  async genesis (): Promise<number | undefined> {
    await yieldTurn()
    return this.genesisMs
  }

  async setGenesis (ms: number): Promise<void> {
    await yieldTurn()
    this.setGenesisCalls++
    this.genesisMs = ms
  }

  async epochMs (): Promise<number | undefined> {
    await yieldTurn()
    return this.storedEpochMs
  }

  async setEpochMs (ms: number): Promise<void> {
    await yieldTurn()
    this.storedEpochMs = ms
  }

  async record (epoch: number): Promise<EpochRecordJson | undefined> {
    await yieldTurn()
    const raw = this.byEpoch.get(epoch)
    return raw == null ? undefined : JSON.parse(raw) as EpochRecordJson
  }

  async recordJson (epoch: number): Promise<Uint8Array | undefined> {
    await yieldTurn()
    const raw = this.byEpoch.get(epoch)
    return raw == null ? undefined : new TextEncoder().encode(raw)
  }

  async records (opts: { from?: number, limit: number, reverse?: boolean }): Promise<EpochRecordJson[]> {
    await yieldTurn()
    const epochs = [...this.byEpoch.keys()].sort((a, b) => a - b)
    const selected = opts.reverse === true
      ? epochs.filter((e) => opts.from == null || e <= opts.from).reverse()
      : epochs.filter((e) => e >= (opts.from ?? 0))
    return selected.slice(0, opts.limit).map((e) => JSON.parse(this.byEpoch.get(e) as string) as EpochRecordJson)
  }

  async commit (record: EpochRecordJson): Promise<void> {
    await yieldTurn()
    this.byEpoch.set(record.epoch, JSON.stringify(record))
  }

  async useNonce (key: string, timestamp: number): Promise<boolean> {
    await yieldTurn()
    if (this.nonces.has(key)) return false
    this.nonces.set(key, timestamp)
    return true
  }

  async pruneNonces (beforeMs: number): Promise<number> {
    await yieldTurn()
    this.pruneCalls.push(beforeMs)
    let n = 0
    for (const [key, ts] of this.nonces) {
      if (ts < beforeMs) {
        this.nonces.delete(key)
        n++
      }
    }
    return n
  }
}

/** Awaits `promise` expecting an EphemeraError with `code` (and a message matching `message`); returns it. */
export async function refused (promise: Promise<unknown>, code: ErrorCodeValue, message?: RegExp | string): Promise<EphemeraError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    expect((err as EphemeraError).code, (err as Error).message).toBe(code)
    if (message != null) expect((err as Error).message).toMatch(message)
    return err as EphemeraError
  }
  throw new Error(`expected ${code}`)
}
