import { step } from '../harness/faults.js'
import { tryGetJson } from '../harness/http.js'
import { MessageLoad } from '../harness/load.js'
import { parseLog } from '../harness/proc.js'
import type { ScenarioRun, ScenarioSpec } from '../harness/scenario.js'
import { waitUntil } from '../harness/wait.js'
import { BlockClient } from '../harness/ws-clients.js'

/**
 * Slow WebSocket clients. A messages cluster under load (large signed messages, so blocks are
 * MiBs) pushes every delivered block to the clients of `WS /ephemera/broadcast/ws`. On node1, eight
 * clients stop reading their sockets; one normal client reads on node1 and one on node2 (node2 is
 * the control: same load, no stalled clients).
 *
 * Invariants: node1's RSS stays within 100 MiB of node2's (the server must not buffer without
 * bound for clients that do not read); the server closes the stalled clients — the one resumed as
 * soon as node1 logs a WebSocket warning sees the close frame, code 1008 or 1013; the others, kept
 * stalled until the load ends, are closed too (they may only see the connection cut, 1006, as the
 * server gives up on a close handshake they never read); the normal clients keep receiving every
 * block; agreement and no double signing over the blocks.
 */
export function slowWs (n: number, opts: { targetMiB?: number, maxLoadSeconds?: number, perSecond?: number, dataBytes?: number } = {}): ScenarioSpec {
  // the load runs until node1 has pushed `targetMiB` to a normal client (or for at most
  // `maxLoadSeconds`): what a loaded machine can carry varies, what must not vary is the bound
  const targetMiB = opts.targetMiB ?? 40
  const maxLoadSeconds = opts.maxLoadSeconds ?? 60
  const perSecond = opts.perSecond ?? 40
  const dataBytes = opts.dataBytes ?? 16 * 1024
  const stalledCount = 8
  interface Clients { normal1: BlockClient, normal2: BlockClient, stalled: BlockClient[], h0: Record<string, number>, h1: Record<string, number>, watcher?: NodeJS.Timeout, load?: MessageLoad, loadStart: number, loadEnd: number }
  const state = (run: ScenarioRun): Clients => run.data.clients as Clients
  const height = async (run: ScenarioRun, name: string): Promise<number> => (await tryGetJson<{ lastHeight: number }>(`${run.cluster.url(name)}/ephemera/broadcast/status`, 15_000))?.lastHeight ?? -1
  return {
    name: 'slow-ws',
    n,
    faults: `${stalledCount} WebSocket clients stop reading on node1 while it pushes ${targetMiB} MiB of blocks (load ${perSecond} msg/s × ${dataBytes / 1024} KiB)`,
    // blocks of at most 200 × 16 KiB: a frame over yamux's 4 MiB stream read buffer would be reset
    cluster: { app: 'messages', nodeSet: ['broadcast.max_messages_per_block=200'] },
    steps: [
      {
        do: step(`open 1 normal + ${stalledCount} stalled clients on node1, 1 normal client on node2`, async (run) => {
          const url1 = run.cluster.url('node1')
          const clients: Clients = {
            normal1: new BlockClient(url1, 'node1 normal'),
            normal2: new BlockClient(run.cluster.url('node2'), 'node2 normal'),
            stalled: Array.from({ length: stalledCount }, (_, i) => new BlockClient(url1, `stalled ${i + 1}`, { parse: false })),
            h0: { node1: await height(run, 'node1'), node2: await height(run, 'node2') },
            h1: {},
            loadStart: 0,
            loadEnd: 0
          }
          run.data.clients = clients
          await Promise.all([clients.normal1, clients.normal2, ...clients.stalled].map(async (c) => { await c.opened }))
          for (const c of clients.stalled) c.stall()
        })
      },
      {
        do: step(`load: ${perSecond} msg/s of ${dataBytes / 1024} KiB`, async (run) => {
          const c = state(run)
          c.load = new MessageLoad(run.cluster, { perSecond, dataBytes, concurrency: 24 })
          c.loadStart = Date.now()
          c.load.start()
          // the first stalled client reads again as soon as node1 warns about a WebSocket client,
          // so that it can read the close frame before the server gives up on the handshake
          const node1 = run.cluster.node('node1')
          const from = node1.log().length
          c.watcher = setInterval(() => {
            const warned = parseLog(node1.log().slice(from)).some((l) => l.level >= 40 && l.module === 'ws')
            if (warned) {
              clearInterval(c.watcher)
              c.stalled[0]!.resume()
              run.note(`node1 warned about a WebSocket client ${((Date.now() - c.loadStart) / 1000).toFixed(1)} s into the load: stalled client 1 resumed`)
            }
          }, 100)
        })
      },
      {
        at: {
          when: async (run) => state(run).normal1.bytes >= targetMiB * 1048576 || Date.now() - state(run).loadStart > maxLoadSeconds * 1000,
          what: `node1 to push ${targetMiB} MiB of blocks`,
          timeoutMs: (maxLoadSeconds + 10) * 1000
        },
        do: step('stop the load; resume the stalled clients', async (run) => {
          const c = state(run)
          clearInterval(c.watcher)
          await c.load!.stop()
          c.loadEnd = Date.now()
          c.h1 = { node1: await height(run, 'node1'), node2: await height(run, 'node2') }
          run.note(`load for ${((c.loadEnd - c.loadStart) / 1000).toFixed(0)} s: ${c.load!.describe()}; node1 delivered ${c.h1.node1! - c.h0.node1!} blocks and pushed ${(c.normal1.bytes / 1048576).toFixed(0)} MiB to a normal client`)
          if (c.normal1.bytes < targetMiB * 1048576) run.note(`the cluster carried less than the ${targetMiB} MiB aimed for: the memory bound is judged on less`)
          for (const s of c.stalled) s.resume()
        })
      },
      {
        do: step('the server closed every stalled client', async (run) => {
          const c = state(run)
          if (!run.cluster.node('node1').running) {
            run.violation('slow-ws', 'node1 is no longer running')
            return
          }
          await waitUntil(() => c.stalled.every((s) => s.closed != null), { timeoutMs: 30_000, what: 'the stalled clients to be closed' }).catch(() => {})
          const open = c.stalled.filter((s) => s.closed == null)
          if (open.length > 0) run.violation('slow-ws', `node1 never closed ${open.length} of ${stalledCount} stalled clients (they received ${open.map((s) => `${(s.bytes / 1048576).toFixed(0)} MiB`).join(', ')} once resumed)`)
          const early = c.stalled[0]!
          if (early.closed != null && early.closed.code !== 1008 && early.closed.code !== 1013) run.violation('slow-ws', `the stalled client resumed early was closed with code ${early.closed.code}${early.closed.reason !== '' ? ` (${early.closed.reason})` : ''}, expected 1008 or 1013`)
          for (const s of c.stalled.slice(1)) {
            if (s.closed != null && ![1008, 1013, 1006].includes(s.closed.code)) run.violation('slow-ws', `${s.label} was closed with code ${s.closed.code}, expected 1008/1013 (or 1006 if cut off)`)
          }
          run.note(`stalled clients: ${c.stalled.map((s) => `${s.label} ${s.closed != null ? `closed ${s.closed.code}${s.closed.reason !== '' ? ` "${s.closed.reason}"` : ''} after ${((s.closed.at - c.loadStart) / 1000).toFixed(1)} s` : 'open'}, ${(s.bytes / 1048576).toFixed(1)} MiB read`).join('; ')}`)
        })
      },
      {
        do: step('the normal clients kept receiving every block', async (run) => {
          const c = state(run)
          for (const [name, client] of [['node1', c.normal1], ['node2', c.normal2]] as const) {
            const want = Array.from({ length: Math.max(0, c.h1[name]! - c.h0[name]!) }, (_, i) => c.h0[name]! + 1 + i)
            try {
              await waitUntil(() => want.every((h) => client.heights.has(h)), { timeoutMs: 30_000, what: `${client.label} to get every block` })
            } catch {
              run.violation('slow-ws', `${client.label} got ${want.filter((h) => client.heights.has(h)).length} of the ${want.length} blocks ${name} delivered during the load${client.closed != null ? ` and was closed (${client.closed.code})` : ''}`)
            }
            if (client.closed != null) run.violation('slow-ws', `${client.label} (reading normally) was closed with ${client.closed.code}`)
          }
        })
      },
      {
        do: step('node1 did not buffer for its stalled clients', async (run) => {
          const c = state(run)
          const one = run.rss!.peakMiB('node1', c.loadStart, c.loadEnd + 5_000)
          const two = run.rss!.peakMiB('node2', c.loadStart, c.loadEnd + 5_000)
          run.note(`RSS peak during the load: node1 ${one} MiB (${stalledCount} stalled clients), node2 ${two} MiB (control)`)
          if (one > two + 100) run.violation('rss', `node1 (with ${stalledCount} stalled WebSocket clients) peaked at ${one} MiB, more than 100 MiB above node2 (${two} MiB) under the same load`)
        })
      }
    ],
    cleanup: async (run) => {
      const c = run.data.clients as Clients | undefined
      if (c == null) return
      clearInterval(c.watcher)
      await c.load?.stop()
      for (const client of [c.normal1, c.normal2, ...c.stalled]) client.close()
    },
    invariants: {
      votes: true,
      rss: { nodeMiB: 1_000 }
    }
  }
}
