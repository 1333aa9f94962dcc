import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { EpochReporter } from '../../../src/cluster/progress.js'

/** `cluster up`'s per-epoch line, against a stand-in coordinator and node over real HTTP. */

let server: Server | undefined
afterEach(async () => { await new Promise<void>((resolve) => { server?.close(() => { resolve() }) ?? resolve() }) })

async function serve (routes: Record<string, unknown>): Promise<string> {
  server = createServer((req, res) => {
    const body = routes[(req.url ?? '').split('?')[0] as string]
    res.writeHead(body == null ? 404 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body ?? { message: 'not found' }))
  })
  await new Promise<void>((resolve) => { server?.listen(0, '127.0.0.1', resolve) })
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`
}

describe('EpochReporter', () => {
  it('notes the committee change an epoch\'s commit decided, and counts reports against that epoch\'s committee', async () => {
    const url = await serve({
      '/contract/epoch': { epoch: 7, environment: { epochDeadlineMs: 1000 } },
      '/contract/epochs': {
        epochs: [{ epoch: 7, status: 'committed', startMs: 0, endMs: 1, winner: 'node1', mode: 'consensus', blockHash: 'ab'.repeat(32), reports: 5, signatures: 4, latencyMs: 250, chunks: { total: 4, contributed: 4, verified: 4 }, committeeSize: 5, committeeChange: { effectiveEpoch: 9, decisions: ['admitted node6', 'dropped node3'] } }]
      },
      '/ephemera/rewards/epochs/7': { progress: { reporters: ['node1', 'node2', 'node4', 'node5', 'node6'], block: { hash: 'ab'.repeat(32), creator: 'node2', reports: 5 } } }
    })
    const lines: string[] = []
    const reporter = new EpochReporter(url, [{ name: 'node1', httpUrl: url }], (line) => { lines.push(line) })
    await reporter.poll()
    expect(lines).toEqual([`epoch 7: reports 5/5, block ${'ab'.repeat(6)} by node2 (4 signatures, 5 reports), chunks 4/4 verified, winner node1, committed 250 ms after the epoch ended; committee change from epoch 9: admitted node6, dropped node3`])
  })
})
