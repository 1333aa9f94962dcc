import { isDeepStrictEqual } from 'node:util'
import { toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import type { DeliveredBlock } from '../broadcast/application.js'
import { epochWindow } from '../epochs/environment.js'
import { standaloneSubmission } from '../epochs/record.js'
import { MAX_VALUE, MISSING, parametersId, reportMessage, type Report } from '../epochs/report.js'
import { AbortError, EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import { advanceProgress, advanceProgressMeanwhile, newProgress, saveProgress, type RewardsContext } from './context.js'
import type { EpochInfoJson } from './coordinator-client.js'
import type { EpochProgress } from './epoch-progress.js'
import { adoptRecord } from './official.js'
import { submitUntilDecided } from './whole-submission.js'
import { epochLeader, fallbackDelay, proposerRank } from './proposer-timing.js'

/**
 * One epoch's persisted pipeline on one node: computing (averages, signed report) → gossiping
 * (reports from a threshold of members) → broadcasting (staggered proposers, RBC) → submitting
 * (the epoch's round at the coordinator) → committed (the coordinator's record adopted), or
 * failed with the reason. Every state is stored before the pipeline finishes with it; on the
 * way from the epoch's end to the coordinator the pipeline goes on while it is being written
 * (the own report itself is stored, synced, before it is published).
 */
export async function runEpoch (ctx: RewardsContext, epoch: number, signal: AbortSignal): Promise<void> {
  const info = ctx.info() as EpochInfoJson
  const env = info.environment
  const { opts, m, pool, blocks, waiters } = ctx
  const window = epochWindow(info.genesisMs, info.epochMs, epoch)
  const p = newProgress(ctx, epoch, 'computing')
  await saveProgress(ctx, p)
  m.crash?.reached('computing', epoch)
  try {
    if (ctx.link.problem != null) throw new EphemeraError(ErrorCode.CONFIG_INVALID, ctx.link.problem)
    // computing: averages over exactly [start, end)
    const parameters = ctx.parameters(epoch) ?? info.parameters
    const { values, samples } = await ctx.metrics.averages(window.startMs, window.endMs, opts.mixnodes)
    const report: Report = { version: 2, epoch, sender: m.key.publicKey, commitment: parametersId(parameters), values: opts.fault === 'skewed' ? values.map((v) => (v === MISSING ? v : MAX_VALUE)) : values }
    const message = reportMessage(report, (b) => m.key.sign(b), ctx.clock())
    const own = toHex(messageId(message))
    // a silent node keeps its report to itself: not published, served, nor put in its blocks
    // persisted (synced) before it is published: a restart never signs a second one
    if (opts.fault !== 'silent') await pool.add(epoch, message, own, { own: true })
    const computed = advanceProgressMeanwhile(ctx, p, opts.standalone ? 'submitting' : 'gossiping', { samples, ownReport: own, times: { ...p.times, computedAt: ctx.clock() } })
    if (opts.standalone) {
      await computed
      // the standalone baseline: this node's own report as a whole submission, then the record
      const { record, outcome } = await submitUntilDecided({ client: m.client, epoch, submission: standaloneSubmission(message, parameters), deadline: window.endMs + env.epochDeadlineMs, clock: ctx.clock, onSubmitted: () => { p.times.submittedAt = ctx.clock() } }, signal)
      await adoptRecord(ctx, p, record, outcome)
      return
    }

    // gossiping: publish (the report is stored; the state is stored meanwhile: under load each
    // write waits its turn on the event loop, and the others wait for this report), collect
    // reports from `threshold` members (ask peers directly when slow)
    if (opts.fault !== 'silent') await pool.publish(message)
    if (opts.fault === 'equivocate') {
      const twin = reportMessage({ ...report, values: report.values.map((v) => (v === MISSING || v === 0 ? v : v - 1)) }, (b) => m.key.sign(b), ctx.clock())
      pool.addTwin(epoch, twin)
      await pool.publish(twin)
    }
    await computed
    const reportDeadline = window.endMs + env.reportDeadlineMs
    const enough = (): boolean => pool.count(epoch) >= ctx.threshold(epoch)
    if (!await waiters.until(enough, window.endMs + Math.round(env.reportDeadlineMs * 0.5), signal)) {
      await pool.fetchMissing(epoch, AbortSignal.any([signal, AbortSignal.timeout(Math.max(100, reportDeadline - ctx.clock()))]))
    }
    let shortOfReports: string | undefined
    if (await waiters.until(enough, reportDeadline, signal)) {
      const gathered = advanceProgressMeanwhile(ctx, p, 'broadcasting', { reporters: pool.reporters(epoch), times: { ...p.times, thresholdAt: ctx.clock() } })
      // broadcasting: staggered proposers, rank k after k·δ with δ from the RBC time measured here,
      // later while the leader is known to be alive (proposer-timing.ts). A node that echoed
      // another member's valid block waits for it to be certified (N·δ more) before proposing its
      // own anyway: an echoed block that never completes must not silence every honest proposer.
      const delivered = (): boolean => blocks.hasDelivered(epoch)
      const settled = (): boolean => delivered() || blocks.echoed(epoch)
      const members = ctx.committees.memberKeys(epoch)
      const leader = epochLeader(members, epoch) ?? ''
      const leaderAlive = (): boolean => pool.has(epoch, leader)
      const rank = proposerRank(members, ctx.self, epoch)
      const stagger = ctx.timing.stagger(env.proposerStaggerMs, env.epochDeadlineMs)
      const from = ctx.clock()
      await waiters.until(() => settled() || leaderAlive(), from + fallbackDelay(rank, stagger, false, env.epochDeadlineMs), signal)
      if (!settled() && leaderAlive()) await waiters.until(settled, from + fallbackDelay(rank, stagger, true, env.epochDeadlineMs), signal)
      if (!delivered() && blocks.echoed(epoch)) await waiters.until(delivered, ctx.clock() + members.length * stagger, signal)
      if (!delivered() && opts.propose) await propose(ctx, p)
      await gathered
    } else {
      // too few reports here to propose, but others may still certify a block: keep voting and waiting
      shortOfReports = `only ${pool.count(epoch)} of ${ctx.threshold(epoch)} reports by the report deadline`
      m.logger.info({ epoch, reason: shortOfReports }, 'not proposing; waiting for a block from the other members')
      await advanceProgress(ctx, p, 'broadcasting', { reporters: pool.reporters(epoch), reason: shortOfReports })
    }
    if (!await waiters.until(() => blocks.hasDelivered(epoch), window.endMs + env.epochDeadlineMs, signal)) {
      // nothing certified reached this node; the coordinator may still have the outcome
      const record = await m.client.record(epoch, signal).catch(() => undefined)
      if (record != null) {
        await adoptRecord(ctx, p, record, 'learned-from-coordinator')
        return
      }
      throw new EphemeraError(ErrorCode.TIMEOUT, `no block for the epoch was certified before the epoch deadline${shortOfReports != null ? ` (${shortOfReports})` : ''}`)
    }
    const delivered = blocks.delivered(epoch) as DeliveredBlock
    const creator = toHex(delivered.block.header.creator)
    const submitting = advanceProgressMeanwhile(ctx, p, 'submitting', {
      reporters: pool.reporters(epoch),
      block: { hash: toHex(delivered.hash), creator: ctx.committees.name(creator) ?? creator, reports: delivered.block.messages.length },
      times: { ...p.times, deliveredAt: ctx.clock() }
    })

    // submitting: the round at the coordinator (leased chunks, assigned verifiers); everyone adopts its record
    await commitByChunks(ctx, p, delivered, signal)
    await submitting
  } catch (err) {
    if (err instanceof AbortError || signal.aborted) return
    await advanceProgress(ctx, p, 'failed', { reason: errorMessage(err) })
    m.logger.warn({ epoch, reason: errorMessage(err) }, 'epoch failed')
  }
}

async function propose (ctx: RewardsContext, p: EpochProgress): Promise<void> {
  try {
    const { hash } = await ctx.m.engine.proposeBlock({ round: p.epoch, messages: ctx.pool.messages(p.epoch) })
    await advanceProgress(ctx, p, 'broadcasting', { proposedBlock: toHex(hash) })
  } catch (err) {
    // e.g. a later epoch was proposed first: another member's block will do
    ctx.m.logger.info({ epoch: p.epoch, err: errorMessage(err) }, 'not proposing a block for the epoch')
    await advanceProgress(ctx, p, 'broadcasting', { reason: `did not propose: ${errorMessage(err)}` })
  }
}

/**
 * The epoch's round at the coordinator: this node uploads the chunks it is leased and verifies
 * those it is assigned until the coordinator commits the epoch (or its finalization deadline
 * passes), then adopts the record.
 */
export async function commitByChunks (ctx: RewardsContext, p: EpochProgress, delivered: DeliveredBlock, signal: AbortSignal): Promise<void> {
  const info = ctx.info() as EpochInfoJson
  const env = info.environment
  const record = await ctx.duties.run({
    epoch: p.epoch,
    delivered,
    parameters: ctx.parameters(p.epoch) ?? info.parameters,
    rotation: { chunkSize: env.chunkSize, verifiersPerChunk: env.verifiersPerChunk },
    deadline: p.endMs + env.finalizationEpochs * info.epochMs,
    // the longest a node waits for the round to change before it looks again
    pollMs: Math.max(100, Math.min(5_000, Math.round(env.leaseTimeoutMs / 4))),
    onProgress: (chunks) => {
      if (isDeepStrictEqual(chunks, p.chunks)) return
      p.chunks = chunks
      saveProgress(ctx, p).catch(() => {})
    }
  }, signal)
  await adoptRecord(ctx, p, record, record.winner.publicKey === toHex(ctx.m.key.publicKey) ? 'accepted' : 'decided-by-another')
}
