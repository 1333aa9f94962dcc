import { fromHex, toHex } from '../../../src/codec/bytes.js'
import { Coordinator, type CoordinatorDeps } from '../../../src/contract/coordinator.js'
import type { MembershipEvent, MembershipRules } from '../../../src/contract/membership.js'
import type { RoundEvent, RoundState } from '../../../src/contract/round.js'
import type { CoordinatorStore } from '../../../src/contract/store.js'
import { verifySignature, type NodeKey } from '../../../src/crypto/keys.js'
import { contributionSigningBytes, rowsHash, verificationSigningBytes } from '../../../src/epochs/chunks.js'
import { ENVIRONMENTS, epochWindow, type Environment } from '../../../src/epochs/environment.js'
import type { CommitteeMemberJson, SubmissionJson } from '../../../src/epochs/record.js'
import type { ContributionBody, VerificationBody } from '../../../src/epochs/requests.js'
import type { CrashPoints } from '../../../src/util/crash-points.js'
import { clone, COMMITTEE, consensusSubmission, KEYS, MemoryStore, PARAMETERS } from './fixtures.js'

/**
 * Drives the coordinator's round lifecycle on an injected clock for the unit tests: 20 mixnodes in
 * chunks of 5 (four chunks), 2 verifiers each; blocks certified by any set of keys.
 */

export const ENV: Environment = { ...ENVIRONMENTS.testing, chunkSize: 5, leaseTimeoutMs: 1_000, attemptTimeoutMs: 3_000, verifiersPerChunk: 2, finalizationEpochs: 4 }
export const GENESIS = 1_700_000_001_000
export const endOf = (epoch: number): number => epochWindow(GENESIS, ENV.epochMs, epoch).endMs

export interface Harness {
  clock: { now: number }
  store: CoordinatorStore
  coordinator: Coordinator
  events: Array<RoundEvent & { epoch: number }>
  /** The committee's events (queued, staged, returned-to-queue, committed, banned, …) as they were stored. */
  membershipEvents: MembershipEvent[]
}

export async function harness (opts: { store?: CoordinatorStore, crash?: (point: string) => void, now?: number, membership?: MembershipRules, adminKey?: string, parametersFor?: (size: number) => typeof PARAMETERS, hooks?: Pick<CoordinatorDeps, 'onEvent' | 'onCommitted' | 'onEvidence'> } = {}): Promise<Harness> {
  const clock = { now: opts.now ?? GENESIS - 600 }
  const store = opts.store ?? new MemoryStore()
  const events: Harness['events'] = []
  const membershipEvents: MembershipEvent[] = []
  const deps: CoordinatorDeps = {
    store,
    clock: () => clock.now,
    committee: COMMITTEE,
    parameters: PARAMETERS,
    verify: verifySignature,
    allowStandalone: false,
    onEvent: (epoch, e) => { events.push({ ...e, epoch }); opts.hooks?.onEvent?.(epoch, e) },
    ...(opts.hooks?.onCommitted != null ? { onCommitted: opts.hooks.onCommitted } : {}),
    ...(opts.hooks?.onEvidence != null ? { onEvidence: opts.hooks.onEvidence } : {}),
    onMembershipEvent: (e) => { membershipEvents.push(e) },
    ...(opts.membership != null ? { membership: opts.membership } : {}),
    ...(opts.adminKey != null ? { adminKey: opts.adminKey } : {}),
    ...(opts.parametersFor != null ? { parametersFor: opts.parametersFor } : {}),
    ...(opts.crash != null ? { crash: { reached: opts.crash } as unknown as CrashPoints } : {})
  }
  const coordinator = new Coordinator(ENV, deps)
  await coordinator.initialize()
  return { clock, store, coordinator, events, membershipEvents }
}

/** Every key a test may sign with: the genesis members and any added by registerKeys. */
const known: NodeKey[] = [...KEYS]
export function registerKeys (keys: readonly NodeKey[]): void {
  for (const k of keys) if (!known.includes(k)) known.push(k)
}
export const keyOf = (publicKey: string): NodeKey => known.find((k) => toHex(k.publicKey) === publicKey) as NodeKey
export const genesisMemberOf = (publicKey: string): CommitteeMemberJson => COMMITTEE.members.find((m) => m.publicKey === publicKey) as CommitteeMemberJson

export type Block = ReturnType<typeof blockOf>

/** A certified block of the epoch (by `creator`, of the committee `keys`) and what contributing/verifying its chunks takes. */
export function blockOf (epoch: number, creator = 0, opts: { keys?: NodeKey[], parameters?: typeof PARAMETERS, reporters?: number[] } = {}): { sub: SubmissionJson, contribution: (index: number, by: string, opts?: { withBlock?: boolean, rows?: SubmissionJson['rewards'] }) => ContributionBody, verification: (index: number, by: string, ownRows?: SubmissionJson['rewards']) => VerificationBody } {
  const sub = consensusSubmission({ epoch, creator, ...(opts.keys != null ? { keys: opts.keys } : {}), ...(opts.reporters != null ? { reporters: opts.reporters } : {}), ...(opts.parameters != null ? { parameters: opts.parameters, reportParameters: opts.parameters } : {}) }).submission
  const blockHash = fromHex(sub.blockHash as string, 32) as Uint8Array
  const range = (index: number): { index: number, from: number, to: number } => ({ index, from: index * ENV.chunkSize, to: (index + 1) * ENV.chunkSize })
  return {
    sub,
    contribution: (index, by, o = {}) => {
      const rows = o.rows ?? sub.rewards.slice(range(index).from, range(index).to)
      const signature = keyOf(by).sign(contributionSigningBytes({ epoch, blockHash, chunk: range(index), rowsHash: rowsHash(rows) }))
      return {
        blockHash: sub.blockHash as string,
        rows,
        signature: toHex(signature),
        ...(o.withBlock === true ? { block: { header: sub.header as never, certificate: sub.certificate as never, reports: sub.reports } } : {})
      }
    },
    verification: (index, by, ownRows) => {
      const rows = sub.rewards.slice(range(index).from, range(index).to)
      const own = rowsHash(ownRows ?? rows)
      const contributed = rowsHash(rows)
      const ok = toHex(own) === toHex(contributed)
      const signature = keyOf(by).sign(verificationSigningBytes({ epoch, blockHash, chunk: range(index), rowsHash: contributed, ownRowsHash: own, ok }))
      return { ok, ownRowsHash: toHex(own), signature: toHex(signature) }
    }
  }
}

export async function roundOf (h: Harness, epoch: number): Promise<RoundState> {
  return clone(await h.coordinator.round(epoch) as RoundState)
}

/** The committee entry of a key in the epoch's committee. */
export function memberAt (h: Harness, epoch: number, publicKey: string): CommitteeMemberJson {
  return h.coordinator.committees.at(epoch).members.get(publicKey) as CommitteeMemberJson
}

/** Locks and contributes every listed chunk by its current lease holder (the first one carries the block). */
export async function contributeAll (h: Harness, epoch: number, b: Block, chunks = [0, 1, 2, 3]): Promise<void> {
  await h.coordinator.update()
  for (const index of chunks) {
    const round = await roundOf(h, epoch)
    const holder = (round.chunks[index] as RoundState['chunks'][number]).lease.holder
    await h.coordinator.tryLock(epoch, index, memberAt(h, epoch, holder))
    await h.coordinator.tryContribute(epoch, index, memberAt(h, epoch, holder), b.contribution(index, holder, { withBlock: round.anchor == null }))
  }
}

export async function verifyAll (h: Harness, epoch: number, b: Block, opts: { reverse?: boolean } = {}): Promise<boolean> {
  let committed = false
  for (const chunk of (await roundOf(h, epoch)).chunks) {
    for (const v of opts.reverse === true ? [...chunk.verifiers].reverse() : chunk.verifiers) committed = (await h.coordinator.tryVerify(epoch, chunk.index, memberAt(h, epoch, v), b.verification(chunk.index, v))).committed
  }
  return committed
}
