import * as z from 'zod'
import type { CommitteeChangeJson, CommitteeDecisionJson } from './committee-chain.js'
import type { CommitteeJson, CommitteeMemberJson, ParametersJson } from './record.js'

/** The bodies and answers of the living committee's requests (README "A living committee"). */

const publicKey = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a 32-byte public key in hex').transform((k) => k.toLowerCase())

/** addToQueue (POST /contract/queue): the validator's name and where it listens. */
export const joinSchema = z.strictObject({
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only'),
  multiaddrs: z.array(z.string().min(1).max(256).regex(/^\//, 'must be a multiaddr (starting with "/")')).min(1).max(8)
})
export type JoinBody = z.output<typeof joinSchema>

/** Operator ban (POST /contract/admin/ban). */
export const banSchema = z.strictObject({ publicKey, reason: z.string().min(1).max(500) })
/** Operator unban (POST /contract/admin/unban). */
export const unbanSchema = z.strictObject({ publicKey })

export interface QueueAnswerJson {
  status: 'member' | 'queued' | 'staged' | 'unqueued' | 'leaving'
  position?: number
}

/** GET /contract/membership: the queue, staged changes, drops, bans and the committees in force or scheduled. */
export interface MembershipViewJson {
  epoch: number
  /** The committee of the current epoch, and the newest one (in force or scheduled). */
  committee: CommitteeJson
  latest: CommitteeJson
  /** The committee before the first kept change, and the changes kept (in force for open epochs, or scheduled): committeeAt(base, changes, e) is the committee of every epoch still open. */
  base: CommitteeJson
  changes: CommitteeChangeJson[]
  /** The aggregation parameters of each committee (by membership id): the threshold may follow the size. */
  parameters: Record<string, ParametersJson>
  queue: Array<{ member: CommitteeMemberJson, joinedAt: number }>
  /** Staged for the next change: admissions, and removals (left, dropped, banned). */
  next: Array<{ member: CommitteeMemberJson, joinedAt: number }>
  removals: CommitteeDecisionJson[]
  /** Consecutive missed epochs of members that missed any. */
  missed: Array<{ member: CommitteeMemberJson, count: number }>
  drops: Array<{ member: CommitteeMemberJson, count: number, epoch: number, reason: string }>
  bans: Array<{ member: CommitteeMemberJson, by: string, reason: string, epoch: number, evidenceHash?: string }>
  locked: boolean
  rules: { admission: 'allowlist' | 'open', maxQueue: number, minCommittee: number, maxCommittee: number, dropAfterMissed: number, banAfterDrops: number }
}
