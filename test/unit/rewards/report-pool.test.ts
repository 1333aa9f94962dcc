import { describe, expect, it, vi } from 'vitest'
import { messageId } from '../../../src/block/encoding.js'
import { toHex } from '../../../src/codec/bytes.js'
import { encodeCbor } from '../../../src/codec/cbor.js'
import type { ClientMessage } from '../../../src/block/types.js'
import { messageToWire } from '../../../src/block/wire.js'
import type { Gossip, PeerNetwork } from '../../../src/network/peers.js'
import { drive, type DrivenHandlers } from '../../helpers/gossip-drive.js'
import { ReportPool } from '../../../src/rewards/report-pool.js'
import { Database } from '../../../src/storage/index.js'
import { silentLogger } from '../../../src/util/logger.js'
import { COMMITTEE, KEYS, memberReport, PARAMETERS } from '../contract/fixtures.js'
import { tempDir } from '../tmp.js'

/** The report pool's gossip path and what it vouches for (a block need not check those reports again). */

const EPOCH = 5

async function pool (dir: string): Promise<{ pool: ReportPool, topic: () => DrivenHandlers, db: Database }> {
  const db = await Database.open(dir)
  let handlers: DrivenHandlers | undefined
  const gossip: Gossip = { subscribe: (_t, h) => { handlers = drive(h) }, unsubscribe: () => {}, publish: async () => {} }
  const network = { self: KEYS[0]!.publicKey, handle: async () => {}, unhandle: async () => {} } as unknown as PeerNetwork
  const p = new ReportPool({ mixnodes: PARAMETERS.mixnodes, keepInMemoryEpochs: 4, keepStoredEpochs: 8, keepEvidenceEpochs: 8 }, {
    gossip,
    network,
    db,
    key: { publicKey: KEYS[0]!.publicKey },
    members: () => [],
    committee: () => new Set(COMMITTEE.members.map((m) => m.publicKey)),
    name: () => undefined,
    acceptsEpoch: () => true,
    parameters: () => PARAMETERS,
    onChange: () => {},
    logger: silentLogger()
  })
  await p.start()
  return { pool: p, topic: () => handlers as DrivenHandlers, db }
}

const wire = (m: ClientMessage): Uint8Array => encodeCbor(messageToWire(m))

describe('ReportPool', () => {
  it('checks a gossiped report once: the validator\'s verdict carries over to its delivery', async () => {
    const { pool: p, topic, db } = await pool(await tempDir())
    const report = memberReport(EPOCH, 1)
    const data = wire(report)
    const checks = vi.spyOn(p, 'checkIncoming')
    expect(await topic().validate(data)).toBe('accept')
    await topic().deliver(data)
    expect(checks).toHaveBeenCalledTimes(1)
    expect(p.has(EPOCH, report.publicKey)).toBe(true)
    // the same report arriving as other bytes (a copy) is a duplicate, checked again
    expect(await topic().validate(Uint8Array.from(data))).toBe('ignore')
    expect(checks).toHaveBeenCalledTimes(2)
    await p.stop()
    await db.close()
  })

  it('vouches only for the exact reports it checked in this process, not for other reports of their senders nor for what it read back after a restart', async () => {
    const dir = await tempDir()
    const before = await pool(dir)
    const report = memberReport(EPOCH, 2)
    const other = memberReport(EPOCH, 2, { timestamp: 42 })
    expect(before.pool.holdsChecked(EPOCH, report)).toBe(false)
    await before.pool.add(EPOCH, report, toHex(messageId(report)))
    expect(before.pool.holdsChecked(EPOCH, report)).toBe(true)
    expect(before.pool.holdsChecked(EPOCH, other)).toBe(false)
    expect(before.pool.holdsChecked(EPOCH + 1, report)).toBe(false)
    await before.pool.stop()
    await before.db.close()

    // read back from storage after a restart: held, but not vouched for
    const after = await pool(dir)
    await after.pool.load(0)
    expect(after.pool.has(EPOCH, report.publicKey)).toBe(true)
    expect(after.pool.holdsChecked(EPOCH, report)).toBe(false)
    await after.pool.stop()
    await after.db.close()
  })
})
