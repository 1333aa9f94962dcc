import { afterEach, describe, expect, it } from 'vitest'
import { HttpServer } from '../../../src/api/server.js'
import { registerContractRoutes } from '../../../src/contract/api.js'
import { verifySignature } from '../../../src/crypto/keys.js'
import type { RoundViewJson } from '../../../src/epochs/requests.js'
import { silentLogger } from '../../../src/util/logger.js'
import { blockOf, contributeAll, endOf, harness, memberAt, roundOf, type Harness } from './round-driver.js'

/**
 * A member's view of a round over HTTP (`?member=KEY`): its duties only, with their digest; a long
 * poll with `unless=DIGEST` is answered when those duties change, not at every change of the round.
 */

const servers: HttpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.app.close() }))
})

async function served (h: Harness): Promise<HttpServer> {
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, silentLogger())
  servers.push(server)
  registerContractRoutes(server.app, h.coordinator, () => h.clock.now, verifySignature)
  await server.app.ready()
  return server
}

async function view (server: HttpServer, query: string): Promise<RoundViewJson & { elapsedMs: number }> {
  const t0 = Date.now()
  const res = await server.app.inject({ method: 'GET', url: `/contract/epochs/1/round?${query}` })
  expect(res.statusCode, res.body).toBe(200)
  return { ...res.json<RoundViewJson>(), elapsedMs: Date.now() - t0 }
}

describe('GET /contract/epochs/{e}/round?member=KEY', () => {
  it('a long poll with unless=DIGEST sleeps through changes that are not the member\'s, and wakes on one that is', async () => {
    const h = await harness()
    h.clock.now = endOf(1) + 10
    await h.coordinator.update()
    const server = await served(h)
    const round = await roundOf(h, 1)
    const member = round.chunks[0]!.lease.holder
    const other = round.chunks.find((c) => c.lease.holder !== member)!
    const first = await view(server, `member=${member}`)
    expect(first.duties).toMatch(/^[0-9a-f]{32}$/)
    // the chunks offered to it, and those it verifies (once the round has its block, before or after their contribution)
    expect(first.chunks.map((c) => c.index)).toEqual(round.chunks.filter((c) => c.lease.holder === member || c.verifiers.includes(member)).map((c) => c.index))
    expect(first.chunks.some((c) => c.lease.holder !== member)).toBe(true)

    // another member locks its chunk: the round changes, this member's duties do not
    const waiting = view(server, `member=${member}&since=${first.version}&waitMs=400&unless=${first.duties as string}`)
    await h.coordinator.tryLock(1, other.index, memberAt(h, 1, other.lease.holder))
    const slept = await waiting
    expect(slept.version).toBeGreaterThan(first.version)
    expect(slept.duties).toBe(first.duties)
    expect(slept.elapsedMs).toBeGreaterThanOrEqual(350)

    // that member's contribution brings the block: every lease's clock starts, this member's too
    const woken = view(server, `member=${member}&since=${slept.version}&waitMs=20000&unless=${slept.duties as string}`)
    await contributeAll(h, 1, blockOf(1), [other.index])
    const changed = await woken
    expect(changed.duties).not.toBe(slept.duties)
    expect(changed.blockHash).not.toBeNull()
    expect(changed.elapsedMs).toBeLessThan(15_000)

    // without member, unless is refused
    const bad = await server.app.inject({ method: 'GET', url: `/contract/epochs/1/round?since=0&unless=${first.duties as string}` })
    expect(bad.statusCode).toBe(400)
  })
})
