import { NodeKey } from '../../../src/crypto/keys.js'
import { step } from '../harness/faults.js'
import { postJson, tryGetJson } from '../harness/http.js'
import { designatedMessage, MessageLoad } from '../harness/load.js'
import type { ScenarioRun, ScenarioSpec } from '../harness/scenario.js'
import { waitUntil } from '../harness/wait.js'
import { epochSeconds, QUIET_RSS } from './common.js'

/**
 * Whole-cluster restart after a long history.
 *
 * messages: a client submits messages to every node continuously, with blocks every 50 ms, until
 * every creator has proposed at least `rounds` rounds; the load stops, then every node is
 * stopped (SIGTERM) and started again. Invariant: within 20 s every creator's NEXT block (a round
 * after its last one before the restart) is certified and delivered on every node, and no node's
 * open RBC instances grow with the history (at most 4 per member plus 16 at any time after the
 * restart), plus agreement and no double signing over the whole history.
 *
 * rewards: `epochs` epochs run (2–3 s each), then every node is stopped and started again.
 * Invariant: epochs keep committing (≤ K = 3 missed in a row after the restart, a fresh epoch
 * within a bounded delay), every node catches up, records and no double signing.
 */

interface Status { lastProposedRound: number, openInstances: number, pendingOwnRounds: number[], mempool: { messages: number }, lastHeight: number }

async function status (run: ScenarioRun, name: string): Promise<Status | undefined> {
  return await tryGetJson<Status>(`${run.cluster.url(name)}/ephemera/broadcast/status`, 5_000)
}

/** Stops every node at once (SIGTERM), then starts them all at once and waits for the mesh. */
async function restartAll (run: ScenarioRun): Promise<void> {
  const c = run.cluster
  const exits = await Promise.all(c.names.map(async (name) => await c.node(name).stop(20_000)))
  for (const [i, name] of c.names.entries()) {
    run.ledger.begin(name, 'down', 'whole-cluster restart', exits[i]?.at)
    if (exits[i]?.code !== 0) run.violation('shutdown', `${name} exited with ${exits[i]?.signal ?? String(exits[i]?.code)} on SIGTERM`)
  }
  for (const name of c.names) c.node(name).start()
  for (const name of c.names) await c.waitNodeReady(name, { timeoutMs: 90_000 })
  await c.waitMesh(c.names, 60_000)
  for (const name of c.names) {
    run.ledger.end(name)
    run.catchUp.track(run, name)
  }
}

export function restartHistoryMessages (n: number, opts: { rounds?: number, maxLoadSeconds?: number } = {}): ScenarioSpec {
  const rounds = opts.rounds ?? 150
  const maxLoadSeconds = opts.maxLoadSeconds ?? 600
  const openBound = 4 * n + 16
  interface State { load?: MessageLoad, before: Record<string, Status>, openMax: Record<string, number>, restartedAt: number }
  const state = (run: ScenarioRun): State => run.data.state as State
  return {
    name: 'restart-history-messages',
    n,
    faults: `messages under load until every creator has ≥ ${rounds} rounds; then all nodes SIGTERM + start`,
    cluster: { app: 'messages', nodeSet: ['broadcast.block_interval_ms=50'] },
    steps: [
      {
        do: step('client load on every node (blocks every 50 ms)', async (run) => {
          const s: State = { before: {}, openMax: {}, restartedAt: 0 }
          run.data.state = s
          s.load = new MessageLoad(run.cluster, { perSecond: 40, dataBytes: 64, concurrency: 8 })
          s.load.start()
          run.data.loadStart = Date.now()
        })
      },
      {
        at: {
          when: async (run) => {
            const all = await Promise.all(run.cluster.names.map(async (name) => await status(run, name)))
            run.data.progress = all.map((x) => x?.lastProposedRound ?? 0)
            return all.every((x) => x != null && x.lastProposedRound >= rounds)
          },
          what: `every creator to propose ${rounds} rounds`,
          timeoutMs: maxLoadSeconds * 1000
        },
        do: step('stop the load; let the cluster drain', async (run) => {
          const s = state(run)
          await s.load!.stop()
          run.note(`history built in ${((Date.now() - (run.data.loadStart as number)) / 1000).toFixed(0)} s: ${s.load!.describe()}`)
          await waitUntil(async () => {
            const all = await Promise.all(run.cluster.names.map(async (name) => await status(run, name)))
            return all.every((x) => x != null && x.mempool.messages === 0 && x.pendingOwnRounds.length === 0)
          }, { timeoutMs: 60_000, what: 'every mempool to drain' }).catch(() => { run.note('the cluster did not fully drain within 60 s before the restart') })
          for (const name of run.cluster.names) s.before[name] = (await status(run, name))!
          run.note(`before the restart: ${run.cluster.names.map((x) => `${x} round ${s.before[x]?.lastProposedRound ?? '?'}, height ${s.before[x]?.lastHeight ?? '?'}, ${s.before[x]?.openInstances ?? '?'} open`).join('; ')}`)
        })
      },
      {
        do: step('stop every node (SIGTERM) and start them all again', async (run) => {
          await restartAll(run)
          state(run).restartedAt = Date.now()
        })
      },
      {
        do: step('every creator\'s next block is certified and delivered on every node', async (run) => {
          const s = state(run)
          const c = run.cluster
          const key = NodeKey.generate()
          for (const creator of c.names) {
            const res = await postJson(`${c.url(creator)}/ephemera/broadcast/submit_message`, designatedMessage(c, creator, key, 'after-restart'), 10_000)
            if (res.status !== 200) run.violation('restart', `${creator} refused a message after the restart: ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`)
          }
          const creators = new Map(c.members.map((m) => [m.peerId, m.name]))
          const next = new Map<string, Set<string>>() // creator → nodes that delivered its next block
          const watchOpen = setInterval(() => {
            for (const name of c.names) {
              void status(run, name).then((x) => { if (x != null) s.openMax[name] = Math.max(s.openMax[name] ?? 0, x.openInstances) })
            }
          }, 250)
          try {
            await waitUntil(async () => {
              for (const node of c.names) {
                const list = await tryGetJson<{ blocks: Array<{ round: number, creator: string }> }>(`${c.url(node)}/ephemera/broadcast/blocks?limit=100`, 5_000)
                for (const b of list?.blocks ?? []) {
                  const creator = creators.get(b.creator)
                  if (creator != null && b.round > (s.before[creator]?.lastProposedRound ?? Infinity)) next.set(creator, (next.get(creator) ?? new Set()).add(node))
                }
              }
              return c.names.every((creator) => next.get(creator)?.size === c.n)
            }, { timeoutMs: 20_000, intervalMs: 500, what: 'every creator\'s next block on every node' })
            run.note(`every creator's next block was delivered everywhere ${((Date.now() - s.restartedAt) / 1000).toFixed(1)} s after the restart`)
          } catch {
            const missing = c.names.filter((creator) => next.get(creator)?.size !== c.n).map((creator) => `${creator} (round > ${s.before[creator]?.lastProposedRound ?? '?'}: on ${next.get(creator)?.size ?? 0}/${c.n} nodes)`)
            const stats = await Promise.all(c.names.map(async (x) => await status(run, x)))
            run.violation('restart', `20 s after the whole-cluster restart, the next block of ${missing.join(', ')} is not delivered everywhere; now: ${c.names.map((x, i) => `${x} round ${stats[i]?.lastProposedRound ?? '?'}, ${stats[i]?.openInstances ?? '?'} open, pending own ${JSON.stringify(stats[i]?.pendingOwnRounds ?? '?')}`).join('; ')}`)
          } finally {
            // and keep watching the open instances a little longer
            await new Promise((resolve) => setTimeout(resolve, 5_000))
            clearInterval(watchOpen)
          }
          const over = c.names.filter((x) => (s.openMax[x] ?? 0) > openBound)
          run.note(`open RBC instances after the restart (max): ${c.names.map((x) => `${x} ${s.openMax[x] ?? '?'}`).join(', ')}`)
          if (over.length > 0) run.violation('restart', `open RBC instances grew with the history after the restart: ${over.map((x) => `${x} ${s.openMax[x]!}`).join(', ')} (bound ${openBound}; the history has ${rounds}+ rounds per creator)`)
        })
      }
    ],
    cleanup: async (run) => { await (run.data.state as State | undefined)?.load?.stop() },
    invariants: {
      catchUpWithinMs: 60_000,
      rss: QUIET_RSS
    }
  }
}

export function restartHistoryRewards (n: number, opts: { epochs?: number } = {}): ScenarioSpec {
  const epochs = opts.epochs ?? 70
  return {
    name: 'restart-history-rewards',
    n,
    faults: `${epochs} epochs, then all nodes SIGTERM + start`,
    cluster: { app: 'rewards', epochSeconds: epochSeconds(n) },
    steps: [
      { at: { epoch: epochs }, do: step('stop every node (SIGTERM) and start them all again', restartAll) }
    ],
    tailEpochs: 10,
    invariants: {
      liveness: { maxGap: 3 },
      catchUpWithinMs: 60_000,
      rss: QUIET_RSS
    }
  }
}
