import { ByzantineMember, garbage } from '../harness/byzantine.js'
import { restart, step } from '../harness/faults.js'
import type { ScenarioRun, ScenarioSpec } from '../harness/scenario.js'
import { epochSeconds, names } from './common.js'

/**
 * A Byzantine member floods the others. Its node process is stopped and replaced by a libp2p host
 * inside the test process with the member's key and address, which sends on the RBC protocol:
 * (a) ~100 distinct, correctly signed PROPOSEs for ONE (round, creator) with ~3.9 MiB blocks that
 *     no application accepts (just under yamux's 4 MiB stream read buffer: a larger frame is reset
 *     by the receiver's muxer before the node sees it);
 * (b) ~4 MiB PROPOSEs for ~100 different rounds, small ones for hundreds more, and ECHOs for
 *     thousands of unknown instances;
 * (c) garbage: random length-prefixed frames, raw bytes with no framing, and well-formed batches
 *     whose messages do not decode.
 * Then the honest node comes back under that identity.
 *
 * Invariants: the honest nodes' RSS stays under 320 MiB during the flood and drops back to within
 * 150 MiB of where it was before it;
 * epochs keep committing (the flooder is the one faulty member); each honest node logs at most
 * 60 warn lines per minute (a repeated fault is logged once per interval, with a count); plus
 * records, no double signing and catch-up of the member when it is honest again.
 */
export function flood (n: number, opts: { proposals?: number, bigRounds?: number, rounds?: number, garbageFrames?: number } = {}): ScenarioSpec {
  const byzantine = names(n).at(-1)!
  const proposals = opts.proposals ?? 100
  const bigRounds = opts.bigRounds ?? 100
  const rounds = opts.rounds ?? 300
  const garbageFrames = opts.garbageFrames ?? 300
  const bound = { nodeMiB: 320, coordinatorMiB: 300 }
  const member = (run: ScenarioRun): ByzantineMember => run.data.byzantine as ByzantineMember
  const rssNow = (run: ScenarioRun): string => run.cluster.names.filter((x) => x !== byzantine).map((x) => `${x} ${Math.round((run.cluster.node(x).rssKiB() ?? 0) / 1024)}`).join(', ')
  return {
    name: 'flood',
    n,
    faults: `${byzantine} replaced by a flooder: ${proposals} × 4 MiB PROPOSEs for one slot, 4 MiB ones for ${bigRounds} rounds, small ones for ${rounds} more, ${garbageFrames + garbageFrames / 5} garbage frames; then honest again`,
    cluster: { app: 'rewards', epochSeconds: epochSeconds(n) },
    byzantine: [byzantine],
    steps: [
      {
        at: { epoch: 2 },
        do: step(`stop ${byzantine}; start the Byzantine ${byzantine}`, async (run) => {
          const p = run.cluster.node(byzantine)
          await p.stop()
          run.ledger.begin(byzantine, 'byzantine', 'flooder')
          run.data.byzantine = await ByzantineMember.start(run.cluster, byzantine)
          run.data.floodStart = Date.now()
          if (run.logRate != null) run.logRate.from = Date.now()
        })
      },
      {
        do: step(`(a) ${proposals} distinct ~4 MiB PROPOSEs for one (round, creator)`, async (run) => {
          const b = member(run)
          const round = run.cluster.epochAt() + 2
          const messages = b.messages(60, 64 * 1024 - 64)
          await b.flood(proposals, (i) => b.proposeFrame(b.proposal(round, messages, i + 1)), { ackTimeoutMs: 3_000 })
          run.note(`(a) sent ${proposals} × ${(b.proposeFrame(b.proposal(round, messages, 0)).length / 1048576).toFixed(1)} MiB PROPOSEs for round ${round} to each of ${b.targets().length} members; ${b.stats.acked} acknowledged; RSS now (MiB): ${rssNow(run)}`)
        })
      },
      {
        do: step(`(b) ~4 MiB PROPOSEs for ${bigRounds} rounds, small ones for ${rounds} more, ECHOs for unknown instances`, async (run) => {
          const b = member(run)
          const first = run.cluster.epochAt() + 3
          const big = b.messages(60, 64 * 1024 - 64)
          const small = b.messages(1, 1024)
          const before = { ...b.stats }
          await b.flood(bigRounds, (i) => b.proposeFrame(b.proposal(first + i, big, 1000 + i)), { ackTimeoutMs: 3_000 })
          await b.flood(rounds, (i) => b.proposeFrame(b.proposal(first + bigRounds + i, small, 2000 + i)), { ackTimeoutMs: 2_000 })
          await b.flood(20, (i) => b.echoFrame(first + bigRounds + rounds + i * 256, 256), { ackTimeoutMs: 2_000 })
          run.note(`(b) rounds ${first}–${first + bigRounds + rounds - 1}: ${b.stats.acked - before.acked} of ${b.stats.frames - before.frames} frames acknowledged; RSS now (MiB): ${rssNow(run)}`)
        })
      },
      {
        do: step(`(c) ${garbageFrames} garbage frames, ${garbageFrames / 10} raw streams, ${garbageFrames / 10} undecodable batches`, async (run) => {
          const b = member(run)
          await b.flood(garbageFrames, (i) => garbage(1024 + (i % 16) * 1024), { ackTimeoutMs: 1_000 })
          await b.flood(garbageFrames / 10, () => garbage(4096), { raw: true })
          await b.flood(garbageFrames / 10, () => b.undecodableFrame(200), { ackTimeoutMs: 2_000 })
          run.data.floodEnd = Date.now()
          run.note(`flood: ${b.stats.frames} frames, ${(b.stats.bytes / 1048576).toFixed(0)} MiB sent in ${((Date.now() - (run.data.floodStart as number)) / 1000).toFixed(0)} s, ${b.stats.acked} acknowledged, ${b.stats.failed} failed (${Object.entries(b.stats.errors).map(([e, k]) => `${k}× ${e}`).join('; ')}); RSS now (MiB): ${rssNow(run)}`)
        })
      },
      {
        // RSS must drop back once the flood is over: what the flood brought in is not kept. V8 is
        // slow to hand memory back, so the judge is the lowest RSS 10–25 s after the flood, and
        // the margin (150 MiB) is well under what keeping the flood's blocks would take
        at: { afterMs: 25_000 },
        do: step('RSS dropped back', async (run) => {
          const rss = run.rss!
          const start = run.data.floodStart as number
          const end = run.data.floodEnd as number
          for (const name of run.cluster.names.filter((x) => x !== byzantine)) {
            const before = rss.peakMiB(name, start - 15_000, start)
            const during = rss.peakMiB(name, start, end)
            const after = rss.lowMiB(name, end + 10_000, Date.now())
            const limit = before + 150
            run.note(`${name}: RSS ${before} MiB before the flood, peak ${during} MiB during, ${after} MiB after (lowest 10–25 s after)`)
            if (!Number.isFinite(after)) run.violation('rss', `${name}: no RSS sample 10–25 s after the flood (is it running?)`)
            else if (after > limit) run.violation('rss', `${name}: RSS did not drop back after the flood: at least ${after} MiB 10–25 s after it (${before} MiB before; limit ${limit} MiB)`)
          }
        })
      },
      {
        do: step(`the Byzantine ${byzantine} leaves`, async (run) => {
          await member(run).stop()
          run.byzantine.delete(byzantine)
          run.ledger.end(byzantine, 'byzantine')
          run.ledger.begin(byzantine, 'down', 'between flooder and honest restart')
        })
      },
      { at: { afterMs: 1_000 }, do: restart(byzantine) }
    ],
    tailEpochs: 4,
    cleanup: async (run) => { await (run.data.byzantine as ByzantineMember | undefined)?.stop().catch(() => {}) },
    invariants: {
      liveness: { maxGap: 3 },
      catchUpWithinMs: 40_000,
      rss: bound,
      warnPerMinute: 60
    }
  }
}
