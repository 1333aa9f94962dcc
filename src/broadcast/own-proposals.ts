import { toHex } from '../codec/bytes.js'
import { blockHash, buildBlock, proposalSigningBytes } from '../block/encoding.js'
import { checkBlock } from '../block/validate.js'
import type { Block, ClientMessage } from '../block/types.js'
import { verifySignature, type NodeKey } from '../crypto/keys.js'
import type { BlockStore, VoteStore, WriteOp } from '../storage/index.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Application } from './application.js'
import type { CommitteeSource } from './committees.js'

export interface OwnProposal {
  block: Block
  hash: Uint8Array
  signature: Uint8Array
}

/**
 * This node's own blocks: the producer state (last round and height, never reused), building,
 * checking and signing a block, persisting it (synced) before it is sent, and the proposals still
 * undelivered — re-proposed after a restart with the same hash and signature.
 */
export class OwnProposals {
  readonly #key: NodeKey
  readonly #votes: VoteStore
  readonly #store: BlockStore
  readonly #app: () => Application
  readonly #now: () => number
  readonly #committees: CommitteeSource
  readonly #pending = new Map<number, Uint8Array>()
  #state = { lastRound: 0, lastHeight: 0 }

  constructor (modules: { key: NodeKey, votes: VoteStore, store: BlockStore, app: () => Application, now: () => number, committees: CommitteeSource }) {
    this.#key = modules.key
    this.#votes = modules.votes
    this.#store = modules.store
    this.#app = modules.app
    this.#now = modules.now
    this.#committees = modules.committees
  }

  /** Loads the producer state; returns the own proposals that a restart interrupted, to propose again. */
  async load (): Promise<OwnProposal[]> {
    this.#state = await this.#votes.producerState()
    const again: OwnProposal[] = []
    const stale: number[] = []
    for (const pending of await this.#votes.pendingOwnProposals()) {
      const hash = blockHash(pending.block.header)
      // delivered before (by a version that cleared it in a separate write): nothing to redo
      if (await this.#store.has(toHex(hash))) {
        stale.push(pending.block.header.round)
        continue
      }
      this.#pending.set(pending.block.header.round, hash)
      again.push({ block: pending.block, hash, signature: pending.signature })
    }
    if (stale.length > 0) await this.#votes.clearOwnProposals(stale)
    return again
  }

  get lastRound (): number {
    return this.#state.lastRound
  }

  /** Rounds of own blocks proposed but not yet delivered. */
  get pendingRounds (): number[] {
    return [...this.#pending.keys()]
  }

  /**
   * Builds, checks, signs and durably records a block of `messages` in `round` (default: the
   * next round). Throws INVALID_ARGUMENT when the round is not after the last one, or when the
   * block or the application refuses it.
   */
  async create (messages: ClientMessage[], round?: number): Promise<OwnProposal & { round: number, height: number }> {
    const r = round ?? this.#state.lastRound + 1
    if (!Number.isSafeInteger(r) || r <= this.#state.lastRound) {
      throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `round ${r} is not after this node's last proposed round ${this.#state.lastRound}`)
    }
    const height = this.#state.lastHeight + 1
    // proposed under the committee of its round
    const committee = this.#committees.at(r)
    const block = buildBlock({ round: r, creator: this.#key.publicKey, height, createdAt: this.#now(), membershipId: committee.membershipId }, messages)
    const problem = checkBlock(block, { members: committee.hex, membershipId: committee.membershipId, verify: verifySignature })
    if (problem != null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `cannot propose: ${problem}`)
    const verdict = await this.#app().checkBlock(block, { local: true })
    if (!verdict.accept) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, `the application rejected the block: ${verdict.reason}`)
    const hash = blockHash(block.header)
    const signature = this.#key.sign(proposalSigningBytes(r, this.#key.publicKey, hash))
    const state = { lastRound: r, lastHeight: height }
    await this.#votes.saveOwnProposal(state, { block, signature })
    this.#state = state
    this.#pending.set(r, hash)
    return { block, hash, signature, round: r, height }
  }

  /** The write that forgets an own proposal once it is delivered (empty for others' blocks). */
  deliveredOps (block: Block): WriteOp[] {
    const round = block.header.round
    if (toHex(block.header.creator) !== toHex(this.#key.publicKey) || !this.#pending.has(round)) return []
    this.#pending.delete(round)
    return [this.#votes.clearOwnProposalOp(round)]
  }

  /** Own proposals whose rounds closed without delivery are given up. */
  forgetBelow (floor: number): WriteOp[] {
    const ops: WriteOp[] = []
    for (const round of [...this.#pending.keys()]) {
      if (round > floor) continue
      this.#pending.delete(round)
      ops.push(this.#votes.clearOwnProposalOp(round))
    }
    return ops
  }
}
