import type { ChunkRange } from '../epochs/chunks.js'
import type { Environment, EpochWindow } from '../epochs/environment.js'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { openRound, type RoundState, type RoundTiming } from './round.js'
import type { CoordinatorStore } from './store.js'

/**
 * A new round for an epoch that has no open one: only once the epoch has ended, while it has no
 * record, has not failed, and is within its finalization window. Throws EPOCH_NOT_READY,
 * EPOCH_DECIDED or EPOCH_FAILED; the round is not stored yet.
 */
export async function openRoundFor (epoch: number, now: number, p: { window: EpochWindow, environment: Environment, store: CoordinatorStore, chunks: readonly ChunkRange[], members: readonly string[], timing: RoundTiming }): Promise<RoundState> {
  const { window, environment, store } = p
  if (now < window.endMs) throw new EphemeraError(ErrorCode.EPOCH_NOT_READY, `epoch ${epoch} ends at ${new Date(window.endMs).toISOString()}; its round opens then`)
  const record = await store.record(epoch)
  if (record != null) throw new EphemeraError(ErrorCode.EPOCH_DECIDED, `epoch ${epoch} is already committed`, { response: { record } })
  const stored = await store.round(epoch)
  if (stored?.status === 'failed') throw new EphemeraError(ErrorCode.EPOCH_FAILED, `epoch ${epoch} failed: ${stored.failure ?? ''}`)
  const finalizationDeadline = window.endMs + environment.finalizationEpochs * environment.epochMs
  if (now > finalizationDeadline) throw new EphemeraError(ErrorCode.EPOCH_FAILED, `epoch ${epoch} ended more than ${environment.finalizationEpochs} epochs ago without being committed`)
  return openRound({ epoch, chunks: p.chunks, members: p.members, now, finalizationDeadline, timing: p.timing })
}
