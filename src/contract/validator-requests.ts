import type { VerifyFn } from '../block/validate.js'
import { checkEvidence } from '../epochs/evidence.js'
import type { JoinBody, MembershipViewJson, QueueAnswerJson } from '../epochs/membership-requests.js'
import type { CommitteeMemberJson } from '../epochs/record.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import type { Coordinator } from './coordinator.js'
import type { BanJson } from './membership.js'
import type { StoredEvidence } from './store.js'

/**
 * The living committee's requests, each a signed request checked by the coordinator's gate first:
 * addToQueue and removeFromQueue (validators), evidence (any registered validator), and the
 * operator's lock, unlock, ban and unban (the admin key). Every change is stored before the answer.
 */
export class ValidatorRequests {
  readonly #coordinator: Coordinator
  readonly #verify: VerifyFn

  constructor (coordinator: Coordinator, verify: VerifyFn) {
    this.#coordinator = coordinator
    this.#verify = verify
  }

  /** addToQueue: the signer (any key, if the admission policy lets it) asks to join the committee. */
  async addToQueue (signer: CommitteeMemberJson, body: JoinBody): Promise<QueueAnswerJson> {
    const member: CommitteeMemberJson = { name: body.name, peerId: signer.peerId, publicKey: signer.publicKey, multiaddrs: body.multiaddrs }
    return await this.#coordinator.changeMembership((m, now) => m.addToQueue(member, now))
  }

  /** removeFromQueue: the signer leaves the queue, or the committee at the next change. */
  async removeFromQueue (signer: CommitteeMemberJson): Promise<QueueAnswerJson> {
    return await this.#coordinator.changeMembership((m) => m.removeFromQueue(signer.publicKey))
  }

  /**
   * Equivocation evidence: checked completely (both signatures, one signer, one slot, different
   * content); the offender must be a member of that epoch's committee or a registered validator.
   * It is banned now (its requests refused) and leaves the committee at the next change.
   */
  async evidence (submitter: CommitteeMemberJson, body: unknown): Promise<{ status: 'banned', ban: BanJson }> {
    const checked = checkEvidence(body, this.#verify)
    if (!checked.ok) throw new EphemeraError(ErrorCode.EVIDENCE_INVALID, `evidence refused: ${checked.reason}`)
    let stored: StoredEvidence | undefined
    const ban = await this.#coordinator.changeMembership((m, now, epoch) => {
      const existing = m.ban(checked.offender)
      if (existing != null) throw new EphemeraError(ErrorCode.ALREADY_EXISTS, `${existing.member.name} is already banned (${existing.reason})`, { response: { ban: existing } })
      const offender = this.#coordinator.committees.at(checked.epoch).members.get(checked.offender) ?? m.registered(checked.offender)
      if (offender == null) throw new EphemeraError(ErrorCode.EVIDENCE_INVALID, `evidence refused: ${checked.offender.slice(0, 16)}… was not in the committee of epoch ${checked.epoch} and is not registered`)
      const kind = (body as { kind: string }).kind
      m.banKey(offender, { by: 'evidence', reason: `${kind} at epoch ${checked.epoch}, evidence from ${submitter.name}`, epoch, evidenceHash: checked.hash })
      stored = { hash: checked.hash, offender: checked.offender, epoch: checked.epoch, submittedBy: submitter.publicKey, submittedAt: now, evidence: body }
      return m.ban(checked.offender) as BanJson
    }, () => stored)
    return { status: 'banned', ban }
  }

  async lock (locked: boolean): Promise<{ locked: boolean }> {
    return await this.#coordinator.changeMembership((m) => {
      m.setLocked(locked)
      return { locked: m.locked }
    })
  }

  /** The operator bans a key (a member, a queued validator, or any key). */
  async ban (publicKey: string, reason: string): Promise<{ status: 'banned', ban: BanJson }> {
    return await this.#coordinator.changeMembership((m, _now, epoch) => {
      const member = m.registered(publicKey) ?? { name: publicKey.slice(0, 12), peerId: '', publicKey }
      if (!m.banKey(member, { by: 'admin', reason, epoch })) throw new EphemeraError(ErrorCode.ALREADY_EXISTS, `${member.name} is already banned`)
      return { status: 'banned' as const, ban: m.ban(publicKey) as BanJson }
    })
  }

  async unban (publicKey: string): Promise<{ status: 'unbanned', ban: BanJson }> {
    return await this.#coordinator.changeMembership((m) => ({ status: 'unbanned' as const, ban: m.unban(publicKey) }))
  }

  /** GET /contract/membership. */
  view (epoch: number): MembershipViewJson {
    const m = this.#coordinator.committees.membership
    const { rules } = m
    return {
      epoch,
      committee: m.committeeAt(epoch),
      latest: m.latest,
      base: m.toJson().base,
      changes: [...m.changes],
      parameters: Object.fromEntries([m.toJson().base, ...m.changes.map((c) => c.committee)].map((c) => [c.membershipId, this.#coordinator.committees.parametersOf(c)])),
      queue: [...m.queue],
      next: [...m.next],
      removals: [...m.removals],
      missed: m.latest.members.flatMap((member) => m.missed(member.publicKey) > 0 ? [{ member, count: m.missed(member.publicKey) }] : []),
      drops: m.drops,
      bans: m.bans,
      locked: m.locked,
      rules: { admission: rules.admission.mode, maxQueue: rules.admission.maxQueue, minCommittee: rules.minCommittee, maxCommittee: rules.maxCommittee, dropAfterMissed: rules.dropAfterMissed, banAfterDrops: rules.banAfterDrops }
    }
  }
}
