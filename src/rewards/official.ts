import { isDeepStrictEqual } from 'node:util'
import { verifySignature } from '../crypto/keys.js'
import { verifyRecord, type EpochRecordJson } from '../epochs/record.js'
import { Bucket, jsonBytes, parseJsonBytes, type Database } from '../storage/index.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import { advanceProgress, type RewardsContext } from './context.js'
import type { EpochProgress } from './epoch-progress.js'

const pad = (n: number): string => String(n).padStart(16, '0')

/** The official record of an epoch that this node adopted (bucket `official`, kept). */
export async function officialRecord (db: Database, epoch: number): Promise<EpochRecordJson | undefined> {
  const raw = await db.bucket(Bucket.official).get(pad(epoch))
  return raw == null ? undefined : parseJsonBytes<EpochRecordJson>(raw)
}

/**
 * Verifies the coordinator's record against this node's own committee and parameters, stores it
 * as official (synced) and marks the epoch committed.
 */
export async function adoptRecord (ctx: RewardsContext, p: EpochProgress, record: EpochRecordJson, outcome?: EpochProgress['submission']): Promise<void> {
  const refuse = (why: string): never => { throw new EphemeraError(ErrorCode.VERIFY_FAILED, `the coordinator's record for epoch ${p.epoch} is not acceptable: ${why}`) }
  if (record.epoch !== p.epoch) refuse(`it is the record of epoch ${record.epoch}`)
  if (record.startMs !== p.startMs || record.endMs !== p.endMs) refuse('its epoch window differs from this node\'s')
  const expected = ctx.parameters(p.epoch)
  if (expected != null && !isDeepStrictEqual(record.parameters, expected)) refuse('its parameters (mixnodes, aggregation, pool, threshold) differ from the coordinator\'s announced ones')
  // a consensus node never endorses an uncertified result, however the coordinator is configured
  if (record.submission.mode === 'standalone' && !ctx.opts.standalone) refuse(`it holds an uncertified standalone submission by ${record.winner.name}`)
  let report
  try {
    // against the committee of the epoch as this node follows it (from the coordinator's published changes)
    report = verifyRecord(record, verifySignature, ctx.committees.committee(p.epoch))
  } catch (err) {
    refuse(`malformed (${errorMessage(err)})`)
  }
  if (report?.ok !== true) refuse(`it does not verify: ${report?.failure ?? ''}`)
  // durable (synced) before the epoch counts as committed here
  await ctx.m.db.write([{ type: 'put', bucket: Bucket.official, key: pad(record.epoch), value: jsonBytes(record) }], { sync: true })
  ctx.m.onAdopted?.(record)
  const committedAt = ctx.clock()
  await advanceProgress(ctx, p, 'committed', {
    reason: undefined,
    submission: outcome,
    winner: record.winner.name,
    officialBlockHash: record.submission.blockHash,
    times: { ...p.times, committedAt },
    latencyMs: committedAt - p.endMs
  })
  ctx.m.logger.info({ epoch: record.epoch, winner: record.winner.name, block: record.submission.blockHash, reports: record.submission.reports.length, coordinatorLatencyMs: record.latencyMs, outcome }, 'epoch committed')
}
