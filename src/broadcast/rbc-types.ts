import type { Block, BlockHeader, ReadySignature } from '../block/types.js'

/** The messages, effects and settings of the RBC state machine (machine.ts). */

export type RbcMessage =
  | { type: 'propose', block: Block, hash: Uint8Array, signature: Uint8Array }
  | { type: 'echo', round: number, creator: Uint8Array, hash: Uint8Array }
  | { type: 'ready', round: number, creator: Uint8Array, hash: Uint8Array, signature: Uint8Array }

export type VoteKind = 'echo' | 'ready'

export interface PersistedVote {
  round: number
  creator: Uint8Array
  kind: VoteKind
  hash: Uint8Array
}

/** A creator's signed proposal, as kept for equivocation evidence (the signature covers round, creator and hash). */
export interface Proposal {
  hash: Uint8Array
  signature: Uint8Array
  /** Known when the PROPOSE itself was seen (not after a restart). */
  header?: BlockHeader
}

export type Effect =
  /** Make this vote durable before sending anything that follows. */
  | { type: 'persist-vote', vote: PersistedVote }
  /** Send to every other member (retransmitted until acknowledged). */
  | { type: 'broadcast', message: RbcMessage }
  | { type: 'deliver', block: Block, hash: Uint8Array, signatures: ReadySignature[], proposalSignature?: Uint8Array }
  /** The block for `hash` is needed: ask these members (they echoed or readied it). */
  | { type: 'fetch', round: number, creator: Uint8Array, hash: Uint8Array, from: Uint8Array[] }
  /** Two proposals by one creator for one round, both signed by it (the first such pair only). */
  | { type: 'equivocation', round: number, creator: Uint8Array, first: Proposal, second: Proposal }
  /** A member signed READY for two hashes of one instance: both signatures (evidence against the signer). */
  | { type: 'ready-equivocation', round: number, creator: Uint8Array, signer: Uint8Array, first: { hash: Uint8Array, signature: Uint8Array }, second: { hash: Uint8Array, signature: Uint8Array } }
  /** Every round ≤ `floor` of `creator` is now closed: persist it and forget what lies below. */
  | { type: 'floor', creator: Uint8Array, floor: number, previous: number }
  /** A message that was dropped, and why (for logs and metrics). */
  | { type: 'reject', from: Uint8Array, reason: string }
  /** A message that cannot be taken now: do not acknowledge it, so that it is retransmitted. */
  | { type: 'defer', from: Uint8Array, reason: string }

export interface RbcCrypto {
  verifyProposal: (creator: Uint8Array, round: number, hash: Uint8Array, signature: Uint8Array) => boolean
  verifyReady: (signer: Uint8Array, round: number, creator: Uint8Array, hash: Uint8Array, signature: Uint8Array) => boolean
  signReady: (round: number, creator: Uint8Array, hash: Uint8Array) => Uint8Array
  /** Recomputes the hash of a block's header and checks its Merkle root and count. */
  blockHash: (block: Block) => Uint8Array | undefined
}

/** What a restart hands back (storage/votes.ts RbcDurableState). */
export interface RestoredState {
  floors?: ReadonlyMap<string, number>
  votes?: readonly PersistedVote[]
  decided?: ReadonlyArray<{ round: number, creator: Uint8Array, hash: Uint8Array, proposalSignature?: Uint8Array }>
}

export interface RbcLimits {
  /** Most undelivered proposed instances per creator; further PROPOSEs by that creator are rejected. */
  maxOpenInstancesPerCreator: number
  /** Most bytes of undelivered blocks kept per creator; beyond it PROPOSEs are rejected. */
  maxOpenBytesPerCreator: number
  /**
   * Most "orphan" instances per creator: known only from other members' ECHO/READY, with no
   * PROPOSE and no vote of this node yet. Beyond it such messages are deferred (not
   * acknowledged, so their senders retransmit), which bounds memory against a member flooding
   * rounds without losing honest votes.
   */
  maxOrphansPerCreator: number
  /** A creator's floor trails its highest decided round by this many rounds. */
  decidedWindow: number
}

export const DEFAULT_RBC_LIMITS: RbcLimits = {
  maxOpenInstancesPerCreator: 16,
  maxOpenBytesPerCreator: 64 * 1024 * 1024,
  maxOrphansPerCreator: 256,
  decidedWindow: 64
}

export interface RbcOptions {
  /** Public keys of every member (including self), when the committee is the same in every round; also made known at start. */
  members?: readonly Uint8Array[]
  /** The committee of each round (instead of `members`). */
  committees?: (round: number) => { hex: ReadonlySet<string>, f: number, q: number }
  self: Uint8Array
  crypto: RbcCrypto
  /** Votes this node persisted before a restart (shorthand for restored.votes). */
  persisted?: readonly PersistedVote[]
  restored?: RestoredState
  limits?: Partial<RbcLimits>
}

export function thresholds (n: number): { n: number, f: number, q: number } {
  const f = Math.floor((n - 1) / 3)
  return { n, f, q: n - f }
}

export interface MachineStats {
  /** Undelivered instances with a proposal or an own vote. */
  open: number
  /** Instances known only from others' votes. */
  orphans: number
  /** Decided instances still remembered (above the floors). */
  decided: number
  /** Bytes of undelivered blocks held. */
  blockBytes: number
}
