import { NodeKey } from '../../../src/crypto/keys.js'
import { step } from '../harness/faults.js'
import { postJson, tryGetJson } from '../harness/http.js'
import { designatedMessage } from '../harness/load.js'
import type { ScenarioSpec } from '../harness/scenario.js'
import { waitUntil } from '../harness/wait.js'
import { QUIET_RSS } from './common.js'

/**
 * The edge of the wire limits, with honest members only: the protocol allows RBC frames of up to
 * 8 MiB + 64 KiB and blocks of up to 8 MiB (docs/PROTOCOL.md §4). node1 collects ~110 messages of
 * 60 KiB designated to it (it proposes only every 45 s, and nobody else includes its messages)
 * and proposes them as one block of about 6.5 MiB.
 *
 * Invariant: every one of those messages is delivered on every node within 120 s of the last
 * submission, in blocks of node1 (agreement and no double signing as always).
 */
export function largeBlock (n: number): ScenarioSpec {
  const count = 110
  const dataBytes = 60 * 1024
  return {
    name: 'large-block',
    n,
    faults: `node1 proposes one block of ${count} × ${dataBytes / 1024} KiB (≈ ${(count * dataBytes / 1048576).toFixed(1)} MiB; the protocol's limit is 8 MiB)`,
    cluster: {
      app: 'messages',
      nodeSet: ['broadcast.designated_fallback_ms=600000'],
      nodeSetFor: { node1: ['broadcast.block_interval_ms=45000'] }
    },
    steps: [
      {
        do: step(`submit ${count} messages of ${dataBytes / 1024} KiB designated to node1`, async (run) => {
          const c = run.cluster
          const key = NodeKey.generate()
          const ids: string[] = []
          for (let i = 0; i < count; i++) {
            const res = await postJson(`${c.url('node1')}/ephemera/broadcast/submit_message`, designatedMessage(c, 'node1', key, 'large-block', dataBytes), 15_000)
            if (res.status === 200) ids.push(res.json.id as string)
            else run.violation('large-block', `node1 refused message ${i}: ${res.status} ${JSON.stringify(res.json).slice(0, 160)}`)
          }
          run.data.ids = ids
        })
      },
      {
        do: step('every message delivered on every node within 120 s', async (run) => {
          const c = run.cluster
          const ids = run.data.ids as string[]
          const where = new Map<string, number>()
          try {
            await waitUntil(async () => {
              for (const node of c.names) {
                for (const id of ids) {
                  if ((where.get(id) ?? 0) > c.names.indexOf(node)) continue
                  const status = await tryGetJson<{ status: string, blockHash?: string }>(`${c.url(node)}/ephemera/messages/${id}`, 5_000)
                  if (status?.status !== 'delivered') return false
                  where.set(id, c.names.indexOf(node) + 1)
                }
              }
              return true
            }, { timeoutMs: 120_000, intervalMs: 1_000, what: 'every message on every node' })
          } catch {
            const last = await Promise.all(c.names.map(async (x) => await tryGetJson<{ lastHeight: number, transport?: unknown }>(`${c.url(x)}/ephemera/broadcast/status`, 5_000)))
            run.violation('large-block', `${ids.filter((id) => (where.get(id) ?? 0) < c.n).length} of ${ids.length} messages are not delivered on every node 120 s after they were submitted (node1 proposes every 45 s) (node heights: ${last.map((s, i) => `${c.names[i]!} ${s?.lastHeight ?? '?'}`).join(', ')})`)
            return
          }
          const first = await tryGetJson<{ blockHash: string }>(`${c.url('node2')}/ephemera/messages/${ids[0]!}`)
          const block = first == null ? undefined : await tryGetJson<{ header: { messageCount: number } }>(`${c.url('node2')}/ephemera/broadcast/block/${first.blockHash}`, 10_000)
          run.note(`the first message's block holds ${block?.header.messageCount ?? '?'} messages`)
        })
      }
    ],
    invariants: { rss: QUIET_RSS }
  }
}
