import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { chainLine, committedEpochs, verifyCommitteeChain } from '../../../src/cli/verify/chain.js'
import { applyDecisions, membershipIdOf, type CommitteeChangeJson } from '../../../src/epochs/committee-chain.js'
import type { CommitteeJson, CommitteeMemberJson, EpochRecordJson } from '../../../src/epochs/record.js'

/**
 * `ephemera verify --contract`'s committee chain: genesis and every committed record, read from a
 * coordinator (here a stub serving the same routes), checked with committeeChainChecks.
 */

const hexKey = (i: number): string => i.toString(16).padStart(2, '0').repeat(32)
const node = (i: number): CommitteeMemberJson => ({ name: `node${i}`, peerId: `peer-${i}`, publicKey: hexKey(i) })
const committee = (ids: number[]): CommitteeJson => ({ membershipId: membershipIdOf(ids.map(hexKey)), members: ids.map(node) })
const GENESIS = committee([1, 2, 3, 4])
const AFTER = applyDecisions(GENESIS, [{ kind: 'admitted', member: node(5), reason: 'admitted from the queue' }])
const CHANGE: CommitteeChangeJson = { effectiveEpoch: 5, decidedAt: 3, previousMembershipId: GENESIS.membershipId, decisions: [{ kind: 'admitted', member: node(5), reason: 'admitted from the queue' }], committee: AFTER }

/** Only what the chain reads: the epoch, its committee and the change it carries. */
const record = (epoch: number, c: CommitteeJson, change?: CommitteeChangeJson): EpochRecordJson => ({ epoch, committee: c, ...(change != null ? { committeeChange: change } : {}) }) as unknown as EpochRecordJson

let server: Server | undefined
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = undefined
})

/** A stub coordinator: GET /contract/genesis, /contract/epochs?from=&limit= (newest first) and /contract/epochs/{e}. */
async function coordinator (current: number, records: EpochRecordJson[]): Promise<{ url: string, requests: string[] }> {
  const byEpoch = new Map(records.map((r) => [r.epoch, r]))
  const requests: string[] = []
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    requests.push(`${url.pathname}${url.search}`)
    const send = (status: number, body: unknown): void => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }
    if (url.pathname === '/contract/genesis') return send(200, { round: 0, genesisMs: 0, committee: GENESIS, parameters: {}, environment: 'testing' })
    if (url.pathname === '/contract/epochs') {
      const limit = Number(url.searchParams.get('limit') ?? 20)
      const from = Number(url.searchParams.get('from') ?? current)
      const epochs = []
      for (let e = from; e >= 1 && epochs.length < limit; e--) epochs.push({ epoch: e, status: byEpoch.has(e) ? 'committed' : e === current ? 'open' : 'failed' })
      return send(200, { currentEpoch: current, epochs })
    }
    const match = /^\/contract\/epochs\/(\d+)$/.exec(url.pathname)
    const found = match == null ? undefined : byEpoch.get(Number(match[1]))
    if (found != null) return send(200, found)
    send(404, { error: 'ERR_NOT_FOUND', message: 'no such thing' })
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests }
}

describe('verify: the committee chain', () => {
  it('reads every committed epoch page by page', async () => {
    const records = [1, 999, 1000, 1001, 2400].map((e) => record(e, GENESIS))
    const stub = await coordinator(2500, records)
    expect(await committedEpochs(stub.url)).toEqual([1, 999, 1000, 1001, 2400])
    expect(stub.requests).toEqual(['/contract/epochs?limit=1000', '/contract/epochs?limit=1000&from=1500', '/contract/epochs?limit=1000&from=500'])
  })

  it('passes when every record names the committee genesis and the changes give', async () => {
    const stub = await coordinator(8, [record(1, GENESIS), record(2, GENESIS), record(3, GENESIS, CHANGE), record(4, GENESIS), record(5, AFTER), record(7, AFTER)])
    const report = await verifyCommitteeChain(stub.url)
    expect(report).toMatchObject({ ok: true, records: 6, changes: 1 })
    expect(report.checks.every((c) => c.ok)).toBe(true)
    expect(chainLine(report)).toBe('committee chain: 1 change over 6 records, every record\'s committee follows from genesis')
  })

  it('fails on a record whose committee does not follow, naming it', async () => {
    const stub = await coordinator(8, [record(3, GENESIS, CHANGE), record(4, AFTER), record(5, AFTER)])
    const report = await verifyCommitteeChain(stub.url)
    expect(report.ok).toBe(false)
    expect(report.failure).toMatch(/^committee of epoch 4: the record names committee \w+…, but genesis and the published changes give \w+…$/)
    expect(chainLine(report)).toMatch(/^committee chain: FAIL committee of epoch 4: /)
  })

  it('fails when the record that carried a change is missing (the later committees do not follow)', async () => {
    const stub = await coordinator(8, [record(1, GENESIS), record(5, AFTER)])
    const report = await verifyCommitteeChain(stub.url)
    expect(report).toMatchObject({ ok: false, changes: 0 })
    expect(report.failure).toMatch(/^committee of epoch 5:/)
  })

  it('fails on a change that does not follow from the committee before it', async () => {
    const forged = { ...CHANGE, effectiveEpoch: 4 }
    const stub = await coordinator(8, [record(3, GENESIS, forged), record(4, AFTER)])
    const report = await verifyCommitteeChain(stub.url)
    expect(report.failure).toBe('committee change in force from epoch 4: decided at epoch 3, it cannot be in force before epoch 5 (it says 4)')
  })
})
