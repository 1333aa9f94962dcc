import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { Bucket, Database, NodeMetaStore } from '../../../src/storage/index.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

async function openError (dir: string): Promise<EphemeraError> {
  try {
    const db = await Database.open(dir)
    await db.close()
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    return err as EphemeraError
  }
  throw new Error(`expected Database.open(${dir}) to fail`)
}

describe('Database', () => {
  it('opens a new database under <dir>/db and closes idempotently', async () => {
    const dir = await tempDir()
    const db = await Database.open(dir)
    expect(db.path).toBe(join(dir, 'db'))
    expect(db.isOpen).toBe(true)
    await db.close()
    expect(db.isOpen).toBe(false)
    await db.close()
    expect(db.isOpen).toBe(false)
  })

  it('creates a missing data directory', async () => {
    const dir = join(await tempDir(), 'a', 'b')
    const db = await Database.open(dir)
    try {
      expect(db.isOpen).toBe(true)
    } finally {
      await db.close()
    }
  })

  it('refuses a second open of the same directory with ERR_DB_LOCKED', async () => {
    const dir = await tempDir()
    const db = await Database.open(dir)
    try {
      const err = await openError(dir)
      expect(err.code).toBe(ErrorCode.DB_LOCKED)
      expect(err.message).toContain('locked by another process')
      expect(err.message).toContain(join(dir, 'db'))
    } finally {
      await db.close()
    }
    // released on close
    const again = await Database.open(dir)
    expect(again.isOpen).toBe(true)
    await again.close()
  })

  it('reports ERR_DB_FAILED when the data directory cannot be created', async () => {
    const root = await tempDir()
    const file = join(root, 'not-a-dir')
    await writeFile(file, 'x')
    const err = await openError(file)
    expect(err.code).toBe(ErrorCode.DB_FAILED)
    expect(err.message).toContain(join(file, 'db'))
  })

  it('jsonRepository stores JSON values and iterates in key order', async () => {
    const dir = await tempDir()
    const db = await Database.open(dir)
    try {
      const repo = db.jsonRepository<{ n: number, tags: string[] }>(Bucket.meta)
      expect(await repo.get('missing')).toBeUndefined()
      await repo.put('b', { n: 2, tags: ['x'] })
      await repo.put('a', { n: 1, tags: [] })
      await repo.put('c', { n: 3, tags: ['y', 'z'] })
      expect(await repo.get('b')).toEqual({ n: 2, tags: ['x'] })
      const all: Array<[string, { n: number }]> = []
      for await (const entry of repo.entries()) all.push(entry)
      expect(all.map(([k, v]) => [k, v.n])).toEqual([['a', 1], ['b', 2], ['c', 3]])
      const some: string[] = []
      for await (const [k] of repo.entries({ gte: 'b', limit: 1 })) some.push(k)
      expect(some).toEqual(['b'])
      const reversed: string[] = []
      for await (const [k] of repo.entries({ reverse: true })) reversed.push(k)
      expect(reversed).toEqual(['c', 'b', 'a'])
      await repo.del('b')
      expect(await repo.get('b')).toBeUndefined()
    } finally {
      await db.close()
    }
  })
})

describe('Database group commit', () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
  const text = (value: Uint8Array | undefined): string | undefined => value == null ? undefined : new TextDecoder().decode(value)

  it('writes made while one waits its turn go to LevelDB as one batch, in call order; each resolves once written, and a synced one makes the batch synced', async () => {
    const dir = await tempDir()
    const batches: boolean[] = []
    const db = await Database.open(dir, { observer: { written: (_s, sync) => { batches.push(sync) }, failed: () => {} } })
    try {
      const write = async (i: number): Promise<void> => { await db.write([{ type: 'put', bucket: Bucket.meta, key: 'same', value: bytes(`v${i}`) }, { type: 'put', bucket: Bucket.meta, key: `k${i}`, value: bytes(`${i}`) }], { sync: i === 7 }) }
      // the first goes to LevelDB on its own; the next 20, made once it has started, join one batch
      const first = write(0)
      await new Promise((resolve) => setImmediate(resolve))
      await Promise.all([first, ...Array.from({ length: 20 }, async (_x, i) => { await write(i + 1) })])
      expect(batches).toEqual([false, true])
      // applied in call order: the last write of the key wins; every write's keys are there
      expect(text(await db.bucket(Bucket.meta).get('same'))).toBe('v20')
      for (let i = 0; i < 21; i++) expect(text(await db.bucket(Bucket.meta).get(`k${i}`))).toBe(`${i}`)
    } finally {
      await db.close()
    }
  })

  it('a write queued behind a put of another kind does not jump ahead of it', async () => {
    const dir = await tempDir()
    const db = await Database.open(dir)
    try {
      const meta = db.bucket(Bucket.meta)
      await Promise.all([
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'k', value: bytes('first') }]),
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'k', value: bytes('second') }]),
        meta.put('k', bytes('third')),
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'k', value: bytes('fourth') }]),
        meta.del('gone'),
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'k', value: bytes('fifth') }])
      ])
      expect(text(await meta.get('k'))).toBe('fifth')
      // and the other way round: the put after the last batch is applied after it
      await Promise.all([
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'k', value: bytes('sixth') }]),
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'k', value: bytes('seventh') }]),
        meta.put('k', bytes('eighth'))
      ])
      expect(text(await meta.get('k'))).toBe('eighth')
    } finally {
      await db.close()
    }
  })
})

describe('NodeMetaStore', () => {
  it('records starts across close and reopen, keeping createdAt and the first PeerId', async () => {
    const dir = await tempDir()
    const t1 = new Date('2024-01-01T00:00:00.000Z')
    const t2 = new Date('2024-01-02T00:00:00.000Z')
    const t3 = new Date('2024-01-03T00:00:00.000Z')

    let db = await Database.open(dir)
    let meta = new NodeMetaStore(db)
    expect(await meta.get()).toBeUndefined()
    expect(await meta.recordStart('peer-A', t1)).toEqual({ peerId: 'peer-A', createdAt: t1.toISOString(), lastStartedAt: t1.toISOString(), starts: 1 })
    expect(await meta.recordStart('peer-A', t2)).toMatchObject({ starts: 2, createdAt: t1.toISOString(), lastStartedAt: t2.toISOString() })
    await db.close()

    db = await Database.open(dir)
    try {
      meta = new NodeMetaStore(db)
      expect(await meta.get()).toEqual({ peerId: 'peer-A', createdAt: t1.toISOString(), lastStartedAt: t2.toISOString(), starts: 2 })
      const third = await meta.recordStart('peer-B', t3)
      expect(third).toEqual({ peerId: 'peer-A', createdAt: t1.toISOString(), lastStartedAt: t3.toISOString(), starts: 3 })
      expect(await meta.get()).toEqual(third)
    } finally {
      await db.close()
    }
  })
})
