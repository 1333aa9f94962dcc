import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { coordinatorAnswer, nodeAnswer, type Running } from '../../../src/cluster/mesh.js'
import type { ProcessPlan } from '../../../src/cluster/plan.js'

/**
 * `cluster up` counts an answer only from its own process: another cluster's node on the same
 * address (other pid, or other PeerId) is foreign, never progress.
 */

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => await new Promise((resolve) => s.close(resolve))))
})

/** An HTTP server answering `path` with `body`, as a node or coordinator would. */
async function answering (routes: Record<string, unknown>): Promise<string> {
  const server = createServer((req, res) => {
    const body = routes[req.url ?? '']
    res.writeHead(body == null ? 404 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body ?? { error: 'ERR_NOT_FOUND' }))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function running (httpUrl: string, pid: number, role: 'node' | 'coordinator' = 'node'): Running {
  const plan: ProcessPlan = {
    role,
    name: role === 'node' ? 'node1' : 'coordinator',
    peerId: role === 'node' ? '12D3KooWOwn' : null,
    address: null,
    configFile: '/x/config.toml',
    httpUrl,
    logFile: '/x/log',
    args: [],
    ports: []
  }
  return { plan, pid }
}

const health = (pid: number, peerId: string, connectedMembers: number): Record<string, unknown> => ({
  '/ephemera/node/health': { status: 'ok', name: 'node1', peerId, pid, connectedMembers, members: 4 },
  // what the old check read: a full mesh, whoever answers
  '/ephemera/broadcast/group/info': { connected: 3, members: [] }
})

describe('what cluster up counts as its own answer', () => {
  it('a node of its own: pid and PeerId match; ready once connected to n−1 members', async () => {
    const url = await answering(health(4242, '12D3KooWOwn', 2))
    expect(await nodeAnswer(running(url, 4242), 4)).toEqual({ text: 'node1 2/3', ok: false, connected: 2 })
    const full = await answering(health(4242, '12D3KooWOwn', 3))
    expect(await nodeAnswer(running(full, 4242), 4)).toEqual({ text: 'node1 3/3', ok: true, connected: 3 })
  })

  it('another process on its address (same PeerId, other pid: a copy of the cluster) is foreign', async () => {
    const url = await answering(health(999, '12D3KooWOwn', 3))
    const answer = await nodeAnswer(running(url, 4242), 4)
    expect(answer.ok).toBe(false)
    expect(answer.text).toBe('node1 foreign (pid 999)')
    expect(answer.foreign).toBe(`${url} answers as pid 999, not as the node1 of this cluster (pid 4242)`)
  })

  it('another node with another PeerId is foreign, even with the right pid', async () => {
    const url = await answering(health(4242, '12D3KooWOther', 3))
    expect((await nodeAnswer(running(url, 4242), 4)).foreign).toBe(`${url} answers as pid 4242, PeerId 12D3KooWOther, not as the node1 of this cluster (pid 4242, PeerId 12D3KooWOwn)`)
  })

  it('an answer without a pid (another program) is foreign; no answer is "starting"', async () => {
    const url = await answering({ '/ephemera/node/health': { status: 'ok', peerId: '12D3KooWOwn', connectedMembers: 3 } })
    expect((await nodeAnswer(running(url, 4242), 4)).foreign).toMatch(/answers as pid unknown/)
    const silent = await answering({})
    expect(await nodeAnswer(running(silent, 4242), 4)).toEqual({ text: 'node1 starting', ok: false })
  })

  it('the coordinator: its own pid is up, another pid is foreign', async () => {
    const own = await answering({ '/contract/health': { status: 'ok', pid: 77, genesisMs: 1, epoch: 1 } })
    expect(await coordinatorAnswer(running(own, 77, 'coordinator'))).toEqual({ text: 'coordinator up', ok: true })
    const other = await answering({ '/contract/health': { status: 'ok', pid: 78, genesisMs: 1, epoch: 1 } })
    const answer = await coordinatorAnswer(running(other, 77, 'coordinator'))
    expect(answer.ok).toBe(false)
    expect(answer.foreign).toBe(`${other} answers as pid 78, not as the coordinator of this cluster (pid 77)`)
  })
})
