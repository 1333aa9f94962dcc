import type { EpochRecordJson, SubmissionJson } from '../epochs/record.js'
import { AbortError, EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import { backoffDelay, sleep } from '../util/time.js'
import type { CoordinatorClient } from './coordinator-client.js'

export type SubmissionOutcome = 'accepted' | 'decided-by-another' | 'already-decided'

/**
 * A whole submission (the standalone baseline; consensus nodes go through the round's chunks):
 * read the coordinator first, submit if the epoch is not decided, and return its record with how
 * it was decided. 425 (the coordinator's clock is behind), 429 and 5xx are retried with backoff
 * until `deadline`; any other refusal is final.
 */
export async function submitUntilDecided (p: { client: CoordinatorClient, epoch: number, submission: SubmissionJson, deadline: number, clock: () => number, onSubmitted: () => void }, signal: AbortSignal): Promise<{ record: EpochRecordJson, outcome: SubmissionOutcome }> {
  const { client, epoch } = p
  let outcome: SubmissionOutcome = 'already-decided'
  for (let attempt = 0; ; attempt++) {
    let record: EpochRecordJson | undefined
    try {
      record = await client.record(epoch, signal)
      if (record == null && outcome !== 'accepted') {
        const result = await client.submit(epoch, p.submission, signal)
        p.onSubmitted()
        if (result.status === 'accepted') {
          outcome = 'accepted'
          record = await client.record(epoch, signal)
        } else {
          outcome = 'decided-by-another'
          record = result.record
        }
      }
    } catch (err) {
      if (signal.aborted) throw new AbortError()
      const status = (err as EphemeraError).details?.status
      if (typeof status === 'number' && status >= 400 && status < 500 && status !== 425 && status !== 429) throw err
      if (p.clock() > p.deadline) throw new EphemeraError(ErrorCode.TIMEOUT, `could not submit before the epoch deadline: ${errorMessage(err)}`)
      await sleep(backoffDelay(attempt, 200, 2_000), signal)
      continue
    }
    if (record != null) return { record, outcome }
    // accepted, but the record could not be read back yet
    if (p.clock() > p.deadline) throw new EphemeraError(ErrorCode.REMOTE, 'the coordinator accepted the submission but serves no record')
    await sleep(backoffDelay(attempt, 200, 2_000), signal)
  }
}
