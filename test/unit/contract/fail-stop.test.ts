import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadContractConfig } from '../../../src/config/index.js'
import { signRequest } from '../../../src/epochs/auth.js'
import { ContractService } from '../../../src/contract/service.js'
import { LevelCoordinatorStore } from '../../../src/contract/store.js'
import type { NodeKey } from '../../../src/crypto/keys.js'
import { Bucket, Database } from '../../../src/storage/index.js'
import { ErrorCode, type EphemeraError } from '../../../src/util/errors.js'
import { createLogger } from '../../../src/util/logger.js'
import { fillDisk, mountTmpfs, tmpfsSupport, unmountTmpfs } from '../../helpers/tmpfs.js'
import { tempDir } from '../tmp.js'
import { consensusSubmission, KEYS, MEMBERS, MIXNODES } from './fixtures.js'

const support = await tmpfsSupport()

describe('LevelCoordinatorStore nonces', () => {
  it('the in-memory claims follow the prune rule too, not only the stored nonces', async () => {
    const db = await Database.open(await tempDir())
    try {
      const a = new LevelCoordinatorStore(db)
      expect(await a.useNonce('k:1', 1000)).toBe(true)
      expect(await a.useNonce('k:2', 5000)).toBe(true)
      expect(await a.useNonce('k:1', 1000)).toBe(false)
      // a second store over the same data (a restart) loads k:1 and k:2 from disk and prunes k:1
      const b = new LevelCoordinatorStore(db)
      expect(await b.useNonce('k:1', 1000)).toBe(false)
      expect(b.noncesInMemory).toBe(2)
      expect(await b.pruneNonces(2000)).toBe(1)
      expect(b.noncesInMemory).toBe(1)
      expect(await b.useNonce('k:2', 5000)).toBe(false)
      // the first store's claim of k:1 is as old: it goes although the disk no longer has it
      expect(await a.pruneNonces(2000)).toBe(0)
      expect(a.noncesInMemory).toBe(1)
      expect(await a.useNonce('k:2', 5000)).toBe(false)
    } finally {
      await db.close()
    }
  })
})

describe('LevelCoordinatorStore nonces handed to the caller\'s write queue', () => {
  it('answers without waiting for the write (which queues behind a synced one), hands it over, refuses a replay at once; a restart finds the nonce once written', async () => {
    const db = await Database.open(await tempDir())
    try {
      const a = new LevelCoordinatorStore(db)
      const writes: Array<Promise<void>> = []
      const issued = (write: Promise<void>): void => { writes.push(write) }
      // the stored nonces are loaded by this first call: from here on useNonce waits for no I/O
      expect(await a.useNonce('k:0', 1000)).toBe(true)
      const synced = db.write([{ type: 'put', bucket: Bucket.contractMeta, key: 'x', value: new Uint8Array(1) }], { sync: true })
      let syncedDone = false
      void synced.then(() => { syncedDone = true })
      expect(await a.useNonce('k:1', 1000, issued)).toBe(true)
      expect(syncedDone).toBe(false)
      expect(writes).toHaveLength(1)
      expect(await a.useNonce('k:1', 1000, issued)).toBe(false)
      expect(writes).toHaveLength(1)
      await Promise.all([synced, ...writes])
      expect(await new LevelCoordinatorStore(db).useNonce('k:1', 1000)).toBe(false)
    } finally {
      await db.close()
    }
  })
})

describe.skipIf(!support.ok)(`the coordinator on a full disk${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  it('a nonce claimed by a request whose write failed is pruned like any other', async () => {
    const mnt = join(await tempDir('ephemera-failstop-'), 'mnt')
    await mountTmpfs(mnt, 1024 * 1024)
    try {
      const db = await Database.open(mnt, { onFatal: () => {} })
      try {
        const store = new LevelCoordinatorStore(db)
        await fillDisk(mnt, 0)
        const big = 'x'.repeat(64 * 1024)
        await expect(store.useNonce(`k:${big}`, 1000)).rejects.toMatchObject({ code: ErrorCode.STORAGE_FAILED })
        expect(store.noncesInMemory).toBe(1)
        expect(await store.pruneNonces(2000)).toBe(0)
        expect(store.noncesInMemory).toBe(0)
      } finally {
        await db.close()
      }
    } finally {
      await unmountTmpfs(mnt)
    }
  })

  it('ContractService: one fatal line and one onFatal call, then 503 ERR_STORAGE_FAILED for every request; a restart serves every record answered 200', async () => {
    const root = await tempDir('ephemera-failstop-')
    const mnt = join(root, 'mnt')
    await mountTmpfs(mnt, 8 * 1024 * 1024)
    try {
      const peers = join(root, 'peers.toml')
      await writeFile(peers, MEMBERS.map((m) => `[[members]]\nname = "${m.name}"\npeer_id = "${m.peerId}"\naddress = "${m.address}"\n`).join('\n'))
      const file = join(root, 'coordinator.toml')
      await writeFile(file, `peers_file = "${peers}"\ndata_dir = "${mnt}"\nenvironment = "testing"\nepoch_ms = 500\n\n[rewards]\nmixnodes = ${MIXNODES}\n\n[http]\nport = 0\n`)
      const config = await loadContractConfig(file)
      const lines: Array<{ level: string, msg: string, store?: string }> = []
      const logger = createLogger({ level: 'info', destination: { write: (line: string) => { lines.push(JSON.parse(line) as { level: string, msg: string }) } } })
      const clock = { now: Date.now() }
      const fatal: EphemeraError[] = []
      const service = await ContractService.start(config, { logger, clock: () => clock.now, onFatal: (err) => { fatal.push(err) } })
      const url = service.http.url
      const post = async (epoch: number): Promise<Response> => {
        const body = JSON.stringify(consensusSubmission({ epoch }).submission)
        const path = `/contract/epochs/${epoch}/submissions`
        const k = KEYS[epoch % 4] as NodeKey
        return await fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...signRequest(k.publicKey, (b) => k.sign(b), 'POST', path, new TextEncoder().encode(body), clock.now) } })
      }
      const accepted: number[] = []
      try {
        clock.now = service.coordinator.genesisMs + 200 * 500
        expect((await post(1)).status).toBe(200)
        accepted.push(1)
        const junk = await fillDisk(mnt, 64 * 1024)
        let failed: Response | undefined
        for (let epoch = 2; epoch < 100 && failed == null; epoch++) {
          const res = await post(epoch)
          if (res.status === 200) accepted.push(epoch)
          else failed = res
        }
        expect(failed?.status).toBe(503)
        expect((await failed?.json() as { error: string }).error).toBe(ErrorCode.STORAGE_FAILED)
        expect(fatal).toHaveLength(1)
        expect(fatal[0]?.details.path).toBe(join(mnt, 'db'))
        const fatalLines = lines.filter((l) => l.level === 'fatal')
        expect(fatalLines).toHaveLength(1)
        expect(fatalLines[0]?.store).toBe(join(mnt, 'db'))
        expect(fatalLines[0]?.msg).toMatch(/^coordinator stopped: storage failed: .*No space left on device/)

        // nothing is answered any more, reads included, even once space is free
        await rm(junk)
        for (const res of [await fetch(`${url}/contract/health`), await fetch(`${url}/contract/epochs/1`), await post(150)]) {
          expect(res.status).toBe(503)
          expect((await res.json() as { error: string }).error).toBe(ErrorCode.STORAGE_FAILED)
        }
        expect(fatal).toHaveLength(1)
      } finally {
        await service.close()
      }

      const again = await ContractService.start(config, { logger, clock: () => clock.now })
      try {
        for (const epoch of accepted) expect((await again.coordinator.record(epoch))?.epoch).toBe(epoch)
        expect(accepted.length).toBeGreaterThan(1)
      } finally {
        await again.close()
      }
    } finally {
      await unmountTmpfs(mnt)
    }
  })
})
