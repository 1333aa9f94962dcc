import { randomBytes } from 'node:crypto'
import { readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { describe, expect, it } from 'vitest'
import { Bucket, Database, type WriteOp } from '../../../src/storage/index.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { fillDisk, mountTmpfs, tmpfsSupport, unmountTmpfs } from '../../helpers/tmpfs.js'
import { tempDir } from '../tmp.js'

const support = await tmpfsSupport()

/** One write the test issued: what it wrote (key → value, undefined = deleted) and how it ended. */
interface Attempt {
  writes: Map<string, Uint8Array>
  outcome: 'resolved' | 'rejected' | 'pending'
  error?: unknown
}

/** Reads a key back from the meta bucket. */
async function read (db: Database, key: string): Promise<Uint8Array | undefined> {
  const raw = await db.bucket(Bucket.meta).get(key)
  return raw == null ? undefined : new Uint8Array(raw)
}

/** The total size of LevelDB's write-ahead logs: refused writes must not grow it. */
async function logBytes (dbPath: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dbPath)) if (name.endsWith('.log')) total += (await stat(join(dbPath, name))).size
  return total
}

/** Byte equality without the deep-equality machinery (slow on 32 KiB arrays). */
function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

function expectStorageFailed (err: unknown): void {
  expect(err).toBeInstanceOf(EphemeraError)
  expect((err as EphemeraError).code).toBe(ErrorCode.STORAGE_FAILED)
}

/**
 * Writes random (incompressible) values of `valueBytes` through every write path — bucket put,
 * JSON repository put, atomic batch, synced and not — `concurrency` at a time, until writes fail.
 */
async function fillUntilFailure (db: Database, opts: { valueBytes: number, concurrency: number, maxWrites: number }): Promise<Attempt[]> {
  const attempts: Attempt[] = []
  const meta = db.bucket(Bucket.meta)
  let n = 0
  const key = (): string => `k${String(n++).padStart(8, '0')}`
  while (n < opts.maxWrites) {
    const round: Array<Promise<void>> = []
    for (let i = 0; i < opts.concurrency; i++) {
      const attempt: Attempt = { writes: new Map(), outcome: 'pending' }
      attempts.push(attempt)
      const kind = attempts.length % 4
      let p: Promise<void>
      if (kind === 0) {
        // an atomic batch of three puts
        const ops: WriteOp[] = []
        for (let j = 0; j < 3; j++) {
          const k = key()
          const v = new Uint8Array(randomBytes(Math.ceil(opts.valueBytes / 3)))
          attempt.writes.set(k, v)
          ops.push({ type: 'put', bucket: Bucket.meta, key: k, value: v })
        }
        p = db.write(ops, { sync: attempts.length % 8 === 0 })
      } else if (kind === 1) {
        const k = key()
        const v = new Uint8Array(randomBytes(opts.valueBytes))
        attempt.writes.set(k, v)
        p = meta.put(k, v, { sync: true })
      } else {
        const k = key()
        const v = new Uint8Array(randomBytes(opts.valueBytes))
        attempt.writes.set(k, v)
        p = meta.put(k, v)
      }
      round.push(p.then(() => { attempt.outcome = 'resolved' }, (err: unknown) => { attempt.outcome = 'rejected'; attempt.error = err }))
    }
    await Promise.all(round)
    if (attempts.some((a) => a.outcome === 'rejected')) return attempts
  }
  throw new Error(`no write failed after ${opts.maxWrites} writes: the disk is not full`)
}

/** Every resolved write is present with its value; a rejected one is absent or complete (never torn). */
async function expectAcknowledgedPresent (db: Database, attempts: Attempt[]): Promise<void> {
  let checked = 0
  for (const attempt of attempts) {
    const found = await Promise.all([...attempt.writes].map(async ([k, v]) => ({ k, v, got: await read(db, k) })))
    if (attempt.outcome === 'resolved') {
      for (const { k, v, got } of found) {
        expect(got, `acknowledged write ${k} is missing after reopen`).toBeDefined()
        expect(sameBytes(got as Uint8Array, v), `acknowledged write ${k} came back different`).toBe(true)
        checked++
      }
    } else {
      const present = found.filter((f) => f.got != null)
      expect([0, found.length], 'a failed batch is either absent or complete').toContain(present.length)
      for (const { v, got } of present) expect(sameBytes(got as Uint8Array, v)).toBe(true)
    }
  }
  expect(checked).toBeGreaterThan(0)
}

describe.skipIf(!support.ok)(`fail-stop storage on a real full tmpfs${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  async function withTmpfs (bytes: number, body: (mnt: string) => Promise<void>): Promise<void> {
    const mnt = join(await tempDir('ephemera-failstop-'), 'mnt')
    await mountTmpfs(mnt, bytes)
    try {
      await body(mnt)
    } finally {
      await unmountTmpfs(mnt)
    }
  }

  it('a failed log append stops the store: one fatal call, every later write refused (also once space is free), every acknowledged write back after reopen', async () => {
    await withTmpfs(8 * 1024 * 1024, async (mnt) => {
      const fatal: EphemeraError[] = []
      const db = await Database.open(mnt, { onFatal: (err) => { fatal.push(err) } })
      // leave room for a few hundred KiB of log only, far less than a memtable (4 MiB): the log append fails
      const junk = await fillDisk(mnt, 256 * 1024)
      const attempts = await fillUntilFailure(db, { valueBytes: 1500, concurrency: 6, maxWrites: 5000 })

      const rejected = attempts.filter((a) => a.outcome === 'rejected')
      expect(attempts.filter((a) => a.outcome === 'pending')).toEqual([])
      for (const a of rejected) expectStorageFailed(a.error)
      expect(fatal).toHaveLength(1)
      expect(fatal[0]?.code).toBe(ErrorCode.STORAGE_FAILED)
      expect(fatal[0]?.details.path).toBe(db.path)
      expect(fatal[0]?.message).toContain(db.path)
      // the log append itself failed (not a background flush): the case LevelDB carries on after
      expect(fatal[0]?.message).toMatch(/\.log: No space left on device/)
      expect(db.failure).toBe(fatal[0])
      // the first rejection is the failure itself; the writes queued behind it were refused
      expect(rejected[0]?.error).toBe(fatal[0])

      // free the space: LevelDB would now accept writes behind the torn record; the store must not
      await rm(junk)
      const logBefore = await logBytes(db.path)
      const later: Array<Promise<unknown>> = [
        db.bucket(Bucket.meta).put('after-1', new Uint8Array([1])),
        db.bucket(Bucket.meta).put('after-2', new Uint8Array([2]), { sync: true }),
        db.bucket(Bucket.meta).del('k00000000'),
        db.write([{ type: 'put', bucket: Bucket.meta, key: 'after-3', value: new Uint8Array([3]) }], { sync: true }),
        db.write([]),
        db.jsonRepository<number>(Bucket.meta).put('after-4', 4)
      ]
      for (const result of await Promise.allSettled(later)) {
        expect(result.status).toBe('rejected')
        expectStorageFailed((result as PromiseRejectedResult).reason)
      }
      expect(await logBytes(db.path), 'a refused write reached LevelDB').toBe(logBefore)
      expect(fatal).toHaveLength(1)
      // reads still work (the process may still need them to report the failure)
      expect(await read(db, 'after-1')).toBeUndefined()
      await db.close()

      const reopened = await Database.open(mnt)
      try {
        expect(reopened.recoveryLosses, 'LevelDB dropped records while recovering').toEqual([])
        await expectAcknowledgedPresent(reopened, attempts)
        for (const key of ['after-1', 'after-2', 'after-3', 'after-4']) expect(await read(reopened, key)).toBeUndefined()
        expect(await read(reopened, 'k00000000')).toBeDefined()
        // the store works again
        await reopened.bucket(Bucket.meta).put('again', new Uint8Array([9]), { sync: true })
        expect(await read(reopened, 'again')).toEqual(new Uint8Array([9]))
      } finally {
        await reopened.close()
      }
    })
  })

  it('a failed background flush of the memtable surfaces at the next write and stops the store the same way', async () => {
    await withTmpfs(16 * 1024 * 1024, async (mnt) => {
      const fatal: EphemeraError[] = []
      const db = await Database.open(mnt, { onFatal: (err) => { fatal.push(err) } })
      // about 8 MiB free: a 4 MiB memtable's log plus the table it is flushed into do not both fit
      const reserve = await fillDisk(mnt, 8 * 1024 * 1024, 'reserve')
      const attempts = await fillUntilFailure(db, { valueBytes: 32 * 1024, concurrency: 4, maxWrites: 2000 })
      expect(fatal).toHaveLength(1)
      expect(fatal[0]?.message).toMatch(/No space left on device/)
      for (const a of attempts.filter((a) => a.outcome === 'rejected')) expectStorageFailed(a.error)
      await db.close()
      // room to replay the log into a table
      await rm(reserve)
      const reopened = await Database.open(mnt)
      try {
        expect(reopened.recoveryLosses).toEqual([])
        await expectAcknowledgedPresent(reopened, attempts)
      } finally {
        await reopened.close()
      }
    })
  })

  it('reopening while the disk is still full is refused clearly; once space is freed nothing acknowledged is lost', async () => {
    await withTmpfs(8 * 1024 * 1024, async (mnt) => {
      const db = await Database.open(mnt, { onFatal: () => {} })
      const junk = await fillDisk(mnt, 128 * 1024)
      const attempts = await fillUntilFailure(db, { valueBytes: 1000, concurrency: 1, maxWrites: 5000 })
      await db.close()

      const refusal = await Database.open(mnt).then(async (d) => { await d.close(); return undefined }, (err: unknown) => err as EphemeraError)
      expect(refusal, 'LevelDB opened a store on a full disk').toBeDefined()
      expect(refusal?.code).toBe(ErrorCode.DB_FAILED)
      expect(refusal?.message).toContain(join(mnt, 'db'))
      expect(refusal?.message).toMatch(/disk is full \(LevelDB: IO error: .*No space left on device\)\. Free space on that disk/)

      await rm(junk)
      const reopened = await Database.open(mnt)
      try {
        expect(reopened.recoveryLosses).toEqual([])
        await expectAcknowledgedPresent(reopened, attempts)
      } finally {
        await reopened.close()
      }
    })
  })

  it('why: plain classic-level keeps writing behind a torn record, and reopening silently drops those acknowledged writes', async () => {
    await withTmpfs(8 * 1024 * 1024, async (mnt) => {
      const path = join(mnt, 'db')
      const level = new Level<string, Uint8Array>(path, { valueEncoding: 'view' })
      await level.open()
      const junk = await fillDisk(mnt, 128 * 1024)
      const acknowledged: string[] = []
      let failures = 0
      for (let i = 0; failures === 0 && i < 5000; i++) {
        const key = `k${String(i).padStart(6, '0')}`
        await level.put(key, new Uint8Array(randomBytes(1000))).then(() => { acknowledged.push(key) }, () => { failures++ })
      }
      expect(failures).toBe(1)
      await rm(junk)
      // LevelDB carries on: these are acknowledged too
      for (let i = 0; i < 100; i++) {
        const key = `late${String(i).padStart(4, '0')}`
        await level.put(key, new Uint8Array(randomBytes(1000)))
        acknowledged.push(key)
      }
      await level.close()

      // it opens without an error (paranoid checks are off) ...
      const db = await Database.open(mnt)
      try {
        const missing: string[] = []
        for (const key of acknowledged) if ((await read(db, key)) == null) missing.push(key)
        // ... but has dropped acknowledged writes, and only its info log says so
        expect(missing.length).toBeGreaterThan(0)
        expect(db.recoveryLosses.length).toBeGreaterThan(0)
        expect(db.recoveryLosses.join('\n')).toMatch(/dropping \d+ bytes; Corruption: (checksum mismatch|bad record length)/)
      } finally {
        await db.close()
      }
    })
  })
})

describe('Database.open refusals', () => {
  it('a damaged store is refused with its path, LevelDB\'s message and what to do', async () => {
    const dir = await tempDir()
    const db = await Database.open(dir)
    await db.bucket(Bucket.meta).put('a', new Uint8Array([1]), { sync: true })
    await db.close()
    const manifest = (await readdir(db.path)).find((name) => name.startsWith('MANIFEST-')) as string
    await writeFile(join(db.path, manifest), randomBytes(200))
    const err = await Database.open(dir).then(async (d) => { await d.close(); return undefined }, (e: unknown) => e as EphemeraError)
    expect(err?.code).toBe(ErrorCode.DB_FAILED)
    expect(err?.message).toContain(`database ${db.path} is damaged (LevelDB: Corruption: `)
    expect(err?.message).toContain(`Restore ${dir} from a backup, or move it aside (mv ${dir} ${dir}.damaged)`)
  })

  it('sync is accepted on every write path', async () => {
    const db = await Database.open(await tempDir())
    try {
      const repo = db.jsonRepository<number>(Bucket.meta)
      await repo.put('a', 1, { sync: true })
      await db.bucket(Bucket.meta).put('b', new Uint8Array([2]), { sync: true })
      await db.write([{ type: 'put', bucket: Bucket.meta, key: 'c', value: new Uint8Array([3]) }], { sync: true })
      await repo.del('a', { sync: true })
      await db.bucket(Bucket.meta).del('b', { sync: true })
      expect(await repo.get('a')).toBeUndefined()
      expect(await read(db, 'b')).toBeUndefined()
      expect(await read(db, 'c')).toEqual(new Uint8Array([3]))
      expect(db.failure).toBeUndefined()
    } finally {
      await db.close()
    }
  })

  it('a write racing close is not a storage failure', async () => {
    const fatal: unknown[] = []
    const db = await Database.open(await tempDir(), { onFatal: (err) => { fatal.push(err) } })
    const closing = db.close()
    await expect(db.bucket(Bucket.meta).put('late', new Uint8Array([1]))).rejects.toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' })
    await closing
    expect(fatal).toEqual([])
    expect(db.failure).toBeUndefined()
  })
})
