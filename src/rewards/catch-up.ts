import { errorMessage } from '../util/errors.js'
import { newProgress, type RewardsContext } from './context.js'
import { commitByChunks } from './epoch-pipeline.js'
import { adoptRecord } from './official.js'

/**
 * Catches up on the `epochs` before `current`: one this node missed (it was down at the epoch's
 * end) or failed (e.g. the coordinator was unreachable at the deadline) adopts the coordinator's
 * record once it has one; a failed epoch for which this node holds a certified block takes part in
 * the epoch's round again while the coordinator has no record. So every node ends up with the
 * same official results.
 */
export async function catchUp (ctx: RewardsContext, current: number, epochs: number, signal: AbortSignal): Promise<void> {
  if (ctx.info() == null || ctx.link.problem != null) return
  for (let epoch = Math.max(1, current - epochs); epoch < current; epoch++) {
    const p = ctx.progress.get(epoch)
    if (p != null && p.state !== 'failed') continue
    const record = await ctx.m.client.record(epoch, signal)
    const progress = p ?? newProgress(ctx, epoch, 'idle')
    try {
      const delivered = ctx.blocks.delivered(epoch)
      if (record != null) {
        await adoptRecord(ctx, progress, record, 'learned-from-coordinator')
      } else if (p != null && !ctx.opts.standalone && delivered != null) {
        ctx.m.logger.info({ epoch }, 'taking part in the epoch\'s round again after a failure here')
        await commitByChunks(ctx, progress, delivered, signal)
      }
    } catch (err) {
      if (signal.aborted) return
      if (p != null) p.reason = errorMessage(err)
      ctx.m.logger.warn({ epoch, err: errorMessage(err) }, 'could not catch up on an epoch')
    }
  }
}
