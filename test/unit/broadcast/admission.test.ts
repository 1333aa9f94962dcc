import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { encodeCbor } from '../../../src/codec/cbor.js'
import { messageToWire } from '../../../src/block/wire.js'
import { Mempool } from '../../../src/block/mempool.js'
import { ClientAdmission, MESSAGES_TOPIC } from '../../../src/broadcast/admission.js'
import { DefaultApplication } from '../../../src/broadcast/application.js'
import type { Gossip, GossipHandlers } from '../../../src/network/peers.js'
import { BlockStore, Database } from '../../../src/storage/index.js'
import { key, signedMessage } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

/** Captures the handlers a component subscribes with, so a test can call its validator. */
function gossipProbe (): Gossip & { handlers: Map<string, GossipHandlers>, published: Uint8Array[] } {
  const handlers = new Map<string, GossipHandlers>()
  const published: Uint8Array[] = []
  return {
    handlers,
    published,
    subscribe: (topic, h) => { handlers.set(topic, h) },
    unsubscribe: (topic) => { handlers.delete(topic) },
    publish: async (_topic, data) => { published.push(data) }
  }
}

describe('ClientAdmission gossip verdicts', () => {
  it('rejects only what is invalid in itself; duplicates are ignored; a local storage failure throws (ignored by the gossip layer, never a reject)', async () => {
    const db = await Database.open(await tempDir())
    const store = await BlockStore.open(db)
    const gossip = gossipProbe()
    const admission = new ClientAdmission({
      mempool: new Mempool({ maxMessages: 10, maxBytes: 1 << 20, maxAgeMs: 60_000 }),
      store,
      gossip,
      app: () => new DefaultApplication({ maxClockSkewMs: 60_000 }),
      logger: pino({ level: 'silent' }),
      now: Date.now
    })
    admission.start()
    const validate = gossip.handlers.get(MESSAGES_TOPIC)!.validate
    const good = signedMessage(key(2), { timestamp: Date.now() })
    const wire = encodeCbor(messageToWire(good))
    expect(await validate(new Uint8Array([0xff, 0x00]))).toBe('reject')
    expect(await validate(encodeCbor(messageToWire({ ...good, data: new Uint8Array([1]) })))).toBe('reject') // bad signature
    expect(await validate(encodeCbor(messageToWire(signedMessage(key(2), { timestamp: 1 }))))).toBe('reject') // checkTx: too old
    expect(await validate(wire)).toBe('accept')
    await admission.submit(good)
    expect(await validate(wire)).toBe('ignore')
    // the store fails: not the sender's fault
    await db.close()
    const fresh = encodeCbor(messageToWire(signedMessage(key(3), { timestamp: Date.now() })))
    await expect(async () => await validate(fresh)).rejects.toThrow()
  })
})
