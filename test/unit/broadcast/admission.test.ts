import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { encodeCbor } from '../../../src/codec/cbor.js'
import { messageToWire } from '../../../src/block/wire.js'
import { Mempool } from '../../../src/block/mempool.js'
import { ClientAdmission, MESSAGES_TOPIC, RELAY_MAX_MESSAGES, RELAY_WINDOW_MS } from '../../../src/broadcast/admission.js'
import { decodeCbor } from '../../../src/codec/cbor.js'
import { messageId } from '../../../src/block/encoding.js'
import { toHex } from '../../../src/codec/bytes.js'
import { DefaultApplication } from '../../../src/broadcast/application.js'
import type { Gossip } from '../../../src/network/peers.js'
import { drive, type DrivenHandlers } from '../../helpers/gossip-drive.js'
import { BlockStore, Database } from '../../../src/storage/index.js'
import { key, signedMessage } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

/** Captures the handlers a component subscribes with, so a test can call its validator. */
function gossipProbe (): Gossip & { handlers: Map<string, DrivenHandlers>, published: Uint8Array[] } {
  const handlers = new Map<string, DrivenHandlers>()
  const published: Uint8Array[] = []
  return {
    handlers,
    published,
    subscribe: (topic, h) => { handlers.set(topic, drive(h)) },
    unsubscribe: (topic) => { handlers.delete(topic) },
    publish: async (_topic, data) => { published.push(data) }
  }
}

async function setup (): Promise<{ db: Database, admission: ClientAdmission, gossip: ReturnType<typeof gossipProbe>, mempool: Mempool }> {
  const db = await Database.open(await tempDir())
  const store = await BlockStore.open(db)
  const gossip = gossipProbe()
  const mempool = new Mempool({ maxMessages: 1000, maxBytes: 1 << 20, maxAgeMs: 60_000 })
  const admission = new ClientAdmission({
    mempool,
    store,
    gossip,
    app: () => new DefaultApplication({ maxClockSkewMs: 60_000 }),
    logger: pino({ level: 'silent' }),
    now: Date.now
  })
  admission.start()
  return { db, admission, gossip, mempool }
}

const batch = (...messages: Parameters<typeof messageToWire>[0][]): Uint8Array => encodeCbor(messages.map(messageToWire))
const fresh = (n: number, k = key(2)): Array<ReturnType<typeof signedMessage>> => Array.from({ length: n }, (_, i) => signedMessage(k, { timestamp: Date.now(), data: `m${i}` }))
const turn = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))
const windowPassed = async (): Promise<void> => await new Promise((resolve) => setTimeout(resolve, RELAY_WINDOW_MS + 5))

describe('ClientAdmission gossip verdicts', () => {
  it('rejects only what is invalid in itself; duplicates are ignored; a local storage failure throws (ignored by the gossip layer, never a reject)', async () => {
    const { db, admission, gossip } = await setup()
    const validate = gossip.handlers.get(MESSAGES_TOPIC)!.validate
    const good = signedMessage(key(2), { timestamp: Date.now() })
    const wire = batch(good)
    expect(await validate(new Uint8Array([0xff, 0x00]))).toBe('reject')
    expect(await validate(encodeCbor(messageToWire(good)))).toBe('reject') // one message, not a batch
    expect(await validate(encodeCbor([]))).toBe('reject') // an empty batch
    expect(await validate(batch({ ...good, data: new Uint8Array([1]) }))).toBe('reject') // bad signature
    expect(await validate(batch(signedMessage(key(2), { timestamp: 1 })))).toBe('reject') // checkTx: too old
    expect(await validate(wire)).toBe('accept')
    await admission.submit(good)
    expect(await validate(wire)).toBe('ignore')
    // the store fails: not the sender's fault
    await db.close()
    await expect(async () => await validate(batch(signedMessage(key(3), { timestamp: Date.now() })))).rejects.toThrow()
  })

  it('a batch is judged as a whole: one invalid message rejects it, all duplicates ignore it, otherwise its new messages are delivered', async () => {
    const { db, admission, gossip, mempool } = await setup()
    try {
      const { validate, deliver } = gossip.handlers.get(MESSAGES_TOPIC)!
      const [a, b, c] = fresh(3)
      await admission.submit(a!)
      expect(await validate(batch(b!, { ...c!, data: new Uint8Array([7]) }))).toBe('reject')
      expect(await validate(batch(a!))).toBe('ignore')
      const mixed = batch(a!, b!, c!)
      expect(await validate(mixed)).toBe('accept')
      deliver(mixed)
      expect(mempool.size).toBe(3)
      for (const m of [a!, b!, c!]) expect(mempool.has(toHex(messageId(m)))).toBe(true)
      expect(await validate(batch(...fresh(RELAY_MAX_MESSAGES + 1, key(4))))).toBe('reject') // over the batch limit
    } finally {
      await admission.stop()
      await db.close()
    }
  })
})

describe('ClientAdmission relay', () => {
  it('publishes the submissions of one window as one batch, and a full batch at once', async () => {
    const { db, admission, gossip } = await setup()
    try {
      const first = fresh(3)
      await admission.submit(first[0]!)
      await turn()
      for (const m of first.slice(1)) await admission.submit(m)
      expect(gossip.published).toHaveLength(0) // not before the window has passed
      await windowPassed()
      await turn()
      expect(gossip.published).toHaveLength(1)
      expect((decodeCbor(gossip.published[0]!, 1 << 20, 'batch') as unknown[]).length).toBe(3)

      const many = fresh(RELAY_MAX_MESSAGES + 2, key(5))
      await Promise.all(many.map(async (m) => await admission.submit(m)))
      expect(gossip.published).toHaveLength(2) // the full batch went at once
      await windowPassed()
      await turn()
      expect(gossip.published.slice(1).map((p) => (decodeCbor(p, 1 << 20, 'batch') as unknown[]).length)).toEqual([RELAY_MAX_MESSAGES, 2])
      // every published message round-trips through a receiver's validator
      const other = await setup()
      try {
        for (const p of gossip.published) expect(await other.gossip.handlers.get(MESSAGES_TOPIC)!.validate(p)).toBe('accept')
      } finally {
        await other.admission.stop()
        await other.db.close()
      }
    } finally {
      await admission.stop()
      await db.close()
    }
  })

  it('stop drops a batch not yet published', async () => {
    const { db, admission, gossip } = await setup()
    try {
      await admission.submit(fresh(1)[0]!)
      await admission.stop()
      await windowPassed()
      expect(gossip.published).toHaveLength(0)
    } finally {
      await db.close()
    }
  })
})
