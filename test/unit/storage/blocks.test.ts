import { describe, it, expect } from 'vitest'
import { messageId } from '../../../src/block/encoding.js'
import { toHex } from '../../../src/codec/bytes.js'
import { Bucket, BlockStore, Database, type DeliveredRecord, type StoredMember } from '../../../src/storage/index.js'
import { certifiedBlock, key, members, signedMessage, type Certified, norm } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

const keys = members(4)
const client = key(0x0c)
const storedMembers: StoredMember[] = keys.map((k, i) => ({ name: `node${i + 1}`, publicKey: toHex(k.publicKey), address: `/ip4/127.0.0.1/tcp/${4001 + i}` }))

/** Distinct certified blocks: block i has round i and i messages. */
const blocks: Certified[] = [1, 2, 3, 4, 5].map((round) => certifiedBlock({
  members: keys,
  creator: round % 4,
  round,
  messages: Array.from({ length: round }, (_, j) => signedMessage(client, { label: `r${round}`, data: `m${j}` })),
  signers: [0, 1, 2]
}))

function record (c: Certified, deliveredAt = new Date('2024-05-01T12:00:00.000Z')): DeliveredRecord {
  return { hash: c.hash, block: c.block, certificate: c.certificate, membershipId: c.membershipId, members: storedMembers, deliveredAt }
}

const b = (i: number): Certified => blocks[i] as Certified
const hex = (c: Certified): string => toHex(c.hash)

async function openStore (dir?: string): Promise<{ db: Database, store: BlockStore, dir: string }> {
  const d = dir ?? await tempDir()
  const db = await Database.open(d)
  return { db, store: await BlockStore.open(db), dir: d }
}

describe('BlockStore', () => {
  it('starts empty', async () => {
    const { db, store } = await openStore()
    try {
      expect(store.lastHeight).toBe(0)
      expect(await store.last()).toBeUndefined()
      expect(await store.atHeight(1)).toBeUndefined()
      expect(await store.list({ limit: 10 })).toEqual([])
      expect(await store.list({ limit: 10, reverse: true })).toEqual([])
    } finally {
      await db.close()
    }
  })

  it('deliver stores block, certificate, info, membership and the message index', async () => {
    const { db, store } = await openStore()
    try {
      const c = b(1)
      const deliveredAt = new Date('2024-05-01T12:34:56.789Z')
      expect(await store.deliver(record(c, deliveredAt))).toBe(1)
      const h = hex(c)
      expect(await store.has(h)).toBe(true)

      const stored = await store.block(h)
      expect(stored?.hash).toBe(h)
      expect(norm(stored?.block)).toEqual(norm(c.block))
      const header = c.block.header
      expect(stored?.info).toEqual({
        localHeight: 1,
        deliveredAt: '2024-05-01T12:34:56.789Z',
        membershipId: toHex(c.membershipId),
        summary: { round: header.round, creator: toHex(header.creator), height: header.height, createdAt: header.createdAt, messageCount: header.messageCount }
      })
      expect(await store.info(h)).toEqual(stored?.info)

      expect(norm(await store.certificate(h))).toEqual(norm(c.certificate))
      expect(await store.membership(toHex(c.membershipId))).toEqual(storedMembers)
      for (const [index, m] of c.block.messages.entries()) {
        expect(await store.messageLocation(toHex(messageId(m)))).toEqual({ block: h, index })
        expect(store.wasDelivered(toHex(messageId(m)))).toBe(true)
      }
      expect(store.wasDelivered(toHex(messageId(signedMessage(client, { label: 'never delivered' }))))).toBe(false)
      expect(await store.hashAtHeight(1)).toBe(h)
    } finally {
      await db.close()
    }
  })

  it('a delivery that fails while being prepared leaves nothing behind (all or none)', async () => {
    const { db, store } = await openStore()
    try {
      await store.deliver(record(b(0)))
      const c = b(2)
      // the last message cannot be hashed for the index (negative timestamp), after the block ops were prepared
      const broken = { ...c.block, messages: [...c.block.messages.slice(0, 2), { ...(c.block.messages[2] as (typeof c.block.messages)[number]), timestamp: -1 }] }
      await expect(store.deliver({ ...record(c), block: broken })).rejects.toThrow()
      const h = hex(c)
      expect(await store.has(h)).toBe(false)
      expect(await store.block(h)).toBeUndefined()
      expect(await store.certificate(h)).toBeUndefined()
      expect(await store.hashAtHeight(2)).toBeUndefined()
      expect(await store.messageLocation(toHex(messageId(c.block.messages[0] as (typeof c.block.messages)[number])))).toBeUndefined()
      expect(store.wasDelivered(toHex(messageId(c.block.messages[0] as (typeof c.block.messages)[number])))).toBe(false)
      expect(store.lastHeight).toBe(1)
      let raw = 0
      for await (const _ of db.bucket(Bucket.block).keys()) raw++
      expect(raw).toBe(1)
      // and the next good delivery takes height 2
      expect(await store.deliver(record(c))).toBe(2)
    } finally {
      await db.close()
    }
  })

  it('assigns local heights 1, 2, 3 in delivery order', async () => {
    const { db, store } = await openStore()
    try {
      expect(await store.deliver(record(b(2)))).toBe(1)
      expect(await store.deliver(record(b(0)))).toBe(2)
      expect(await store.deliver(record(b(1)))).toBe(3)
      expect(store.lastHeight).toBe(3)
      expect(await store.hashAtHeight(1)).toBe(hex(b(2)))
      expect(await store.hashAtHeight(2)).toBe(hex(b(0)))
      expect(await store.hashAtHeight(3)).toBe(hex(b(1)))
      expect((await store.info(hex(b(0))))?.localHeight).toBe(2)
    } finally {
      await db.close()
    }
  })

  it('delivering the same hash twice returns the existing height and adds no height', async () => {
    const { db, store } = await openStore()
    try {
      await store.deliver(record(b(0)))
      await store.deliver(record(b(1)))
      expect(await store.deliver(record(b(0), new Date('2030-01-01T00:00:00.000Z')))).toBe(1)
      expect(store.lastHeight).toBe(2)
      expect(await store.hashAtHeight(3)).toBeUndefined()
      expect((await store.list({ limit: 10 })).map((e) => e.height)).toEqual([1, 2])
      // the first delivery record is kept
      expect((await store.info(hex(b(0))))?.deliveredAt).toBe('2024-05-01T12:00:00.000Z')
      expect(await store.deliver(record(b(2)))).toBe(3)
    } finally {
      await db.close()
    }
  })

  it('atHeight, last and list (asc and desc, limit, fromHeight)', async () => {
    const { db, store } = await openStore()
    try {
      for (let i = 0; i < 5; i++) await store.deliver(record(b(i)))
      expect((await store.atHeight(3))?.hash).toBe(hex(b(2)))
      expect((await store.atHeight(3))?.info.localHeight).toBe(3)
      expect(await store.atHeight(6)).toBeUndefined()
      expect(await store.atHeight(0)).toBeUndefined()
      expect((await store.last())?.hash).toBe(hex(b(4)))

      const all = blocks.map((c, i) => ({ height: i + 1, hash: hex(c) }))
      expect(await store.list({ limit: 100 })).toEqual(all)
      expect(await store.list({ limit: 100, reverse: true })).toEqual([...all].reverse())
      expect(await store.list({ limit: 2 })).toEqual(all.slice(0, 2))
      expect(await store.list({ limit: 2, reverse: true })).toEqual([all[4], all[3]])
      expect(await store.list({ fromHeight: 3, limit: 100 })).toEqual(all.slice(2))
      expect(await store.list({ fromHeight: 3, limit: 1 })).toEqual([all[2]])
      expect(await store.list({ fromHeight: 3, limit: 100, reverse: true })).toEqual([all[2], all[1], all[0]])
      expect(await store.list({ fromHeight: 2, limit: 1, reverse: true })).toEqual([all[1]])
      expect(await store.list({ fromHeight: 9, limit: 10 })).toEqual([])
      expect(await store.list({ fromHeight: 9, limit: 2, reverse: true })).toEqual([all[4], all[3]])
    } finally {
      await db.close()
    }
  })

  it('orders heights numerically beyond 9 (zero-padded keys)', async () => {
    const { db, store } = await openStore()
    try {
      const many = Array.from({ length: 12 }, (_, i) => certifiedBlock({ members: keys, round: 100 + i, signers: [0, 1, 2] }))
      for (const c of many) await store.deliver(record(c))
      expect((await store.list({ limit: 100 })).map((e) => e.height)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1))
      expect((await store.list({ limit: 3, reverse: true })).map((e) => e.height)).toEqual([12, 11, 10])
      expect((await store.last())?.hash).toBe(toHex((many[11] as Certified).hash))
    } finally {
      await db.close()
    }
  })

  it('lastHeight and the data survive close and reopen', async () => {
    const first = await openStore()
    await first.store.deliver(record(b(0)))
    await first.store.deliver(record(b(1)))
    await first.store.deliver(record(b(2)))
    await first.db.close()

    const again = await openStore(first.dir)
    try {
      expect(again.store.lastHeight).toBe(3)
      expect((await again.store.last())?.hash).toBe(hex(b(2)))
      expect(norm((await again.store.block(hex(b(1))))?.block)).toEqual(norm(b(1).block))
      expect(norm(await again.store.certificate(hex(b(1))))).toEqual(norm(b(1).certificate))
      expect(await again.store.deliver(record(b(3)))).toBe(4)
      expect(await again.store.deliver(record(b(0)))).toBe(1)
    } finally {
      await again.db.close()
    }
  })

  it('messageLocation', async () => {
    const { db, store } = await openStore()
    try {
      await store.deliver(record(b(1)))
      await store.deliver(record(b(2)))
      const third = b(2).block.messages[2]
      expect(third).toBeDefined()
      expect(await store.messageLocation(toHex(messageId(third as NonNullable<typeof third>)))).toEqual({ block: hex(b(2)), index: 2 })
      expect(await store.messageLocation(toHex(messageId(signedMessage(client, { label: 'never delivered' }))))).toBeUndefined()
    } finally {
      await db.close()
    }
  })

  it('a message in several blocks keeps every location; the canonical one (lowest block hash) does not depend on delivery order', async () => {
    const shared = signedMessage(client, { label: 'twice', data: 'at least once' })
    const x = certifiedBlock({ members: keys, creator: 1, round: 7, messages: [signedMessage(client, { label: 'x' }), shared], signers: [0, 1, 2] })
    const y = certifiedBlock({ members: keys, creator: 2, round: 7, messages: [shared], signers: [0, 1, 2] })
    const id = toHex(messageId(shared))
    const [low, high] = toHex(x.hash) < toHex(y.hash) ? [x, y] : [y, x]
    const expected = [{ block: toHex(low.hash), index: low === x ? 1 : 0 }, { block: toHex(high.hash), index: high === x ? 1 : 0 }]
    for (const order of [[x, y], [y, x]]) {
      const { db, store } = await openStore()
      try {
        await store.deliver(record(order[0] as Certified))
        await store.deliver(record(order[1] as Certified))
        expect(await store.messageLocations(id, 16)).toEqual(expected)
        expect(await store.messageLocation(id)).toEqual(expected[0])
      } finally {
        await db.close()
      }
    }
  })

  it('a store written before the msg-seen index gets it filled on open, from msg-loc and the legacy msg index, once', async () => {
    const { db, store, dir } = await openStore()
    const legacy = toHex(messageId(signedMessage(client, { label: 'legacy index' })))
    const delivered = [...b(2).block.messages, ...b(3).block.messages].map((m) => toHex(messageId(m)))
    try {
      await store.deliver(record(b(2)))
      await store.deliver(record(b(3)))
      // as a version before the index left it: locations only, no msg-seen entries, no flag
      await db.bucket(Bucket.messageIndex).put(legacy, new TextEncoder().encode(JSON.stringify({ block: hex(b(0)), index: 0 })))
      await db.write([...delivered.map((id) => ({ type: 'del' as const, bucket: Bucket.messageDelivered, key: id })), { type: 'del', bucket: Bucket.meta, key: 'msg-seen-filled' }])
      expect(delivered.some((id) => store.wasDelivered(id))).toBe(false)
    } finally {
      await db.close()
    }
    const again = await openStore(dir)
    try {
      for (const id of [...delivered, legacy]) expect(again.store.wasDelivered(id)).toBe(true)
      expect(again.store.wasDelivered('cd'.repeat(32))).toBe(false)
      let entries = 0
      for await (const _ of again.db.bucket(Bucket.messageDelivered).keys()) entries++
      expect(entries).toBe(delivered.length + 1)
      // filled once: an entry removed now stays removed at the next open
      await again.db.bucket(Bucket.messageDelivered).del(legacy)
    } finally {
      await again.db.close()
    }
    const third = await openStore(dir)
    try {
      expect(third.store.wasDelivered(legacy)).toBe(false)
    } finally {
      await third.db.close()
    }
  })

  it('certificate round trip keeps signer order and bytes', async () => {
    const { db, store } = await openStore()
    try {
      const c = certifiedBlock({ members: keys, round: 42, signers: [3, 0, 2, 1] })
      await store.deliver(record(c))
      const cert = await store.certificate(toHex(c.hash))
      expect(cert?.round).toBe(42)
      expect(cert?.signatures.map((s) => toHex(s.signer))).toEqual([3, 0, 2, 1].map((i) => toHex((keys[i] as (typeof keys)[number]).publicKey)))
      expect(norm(cert)).toEqual(norm(c.certificate))
    } finally {
      await db.close()
    }
  })

  it('unknown hashes, heights and ids → undefined', async () => {
    const { db, store } = await openStore()
    try {
      await store.deliver(record(b(0)))
      const unknown = 'ab'.repeat(32)
      expect(await store.has(unknown)).toBe(false)
      expect(await store.block(unknown)).toBeUndefined()
      expect(await store.info(unknown)).toBeUndefined()
      expect(await store.certificate(unknown)).toBeUndefined()
      expect(await store.membership(unknown)).toBeUndefined()
      expect(await store.messageLocation(unknown)).toBeUndefined()
      expect(await store.hashAtHeight(2)).toBeUndefined()
      expect(await store.atHeight(2)).toBeUndefined()
    } finally {
      await db.close()
    }
  })

  // deliver serialises itself: concurrent callers get distinct, gap-free heights
  it('concurrent deliveries of different blocks get distinct heights', async () => {
    const { db, store } = await openStore()
    try {
      const heights = await Promise.all([store.deliver(record(b(0))), store.deliver(record(b(1)))])
      expect([...heights].sort()).toEqual([1, 2])
      expect(store.lastHeight).toBe(2)
      expect((await store.list({ limit: 10 })).map((e) => e.hash).sort()).toEqual([hex(b(0)), hex(b(1))].sort())
    } finally {
      await db.close()
    }
  })
})
