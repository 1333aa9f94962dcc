import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { signRequest } from '../../src/epochs/auth.js'
import { NodeKey } from '../../src/crypto/keys.js'
import { killTracked, runCli, startCli, waitForExit } from '../helpers/cli.js'
import { freePortBlock, getJson, makeTempDir, removeDir, waitFor } from '../helpers/env.js'
import { postJson, signedMessage } from '../helpers/messages.js'
import { fillDisk, mountTmpfs, tmpfsSupport, unmountTmpfs } from '../helpers/tmpfs.js'
import { consensusSubmission, KEYS, MEMBERS, MIXNODES } from '../unit/contract/fixtures.js'

/**
 * Fail-stop storage with real processes on a real full disk (a small tmpfs): the coordinator and a
 * node exit 74 with one fatal line at their first failed write, having acknowledged nothing they
 * had not stored, and restart cleanly once space is freed with everything they had served.
 */

const support = await tmpfsSupport()
const EXIT_STORAGE_FAILED = 74

interface LogLine {
  level: string
  msg: string
  store?: string
  cause?: string
}

async function logLines (file: string): Promise<{ json: LogLine[], other: string[] }> {
  const json: LogLine[] = []
  const other: string[] = []
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line.trim() === '') continue
    try {
      json.push(JSON.parse(line) as LogLine)
    } catch {
      other.push(line)
    }
  }
  return { json, other }
}

/** Exactly one fatal line, naming the store and the disk-full cause; no stack trace anywhere. */
async function expectOneFatalLine (log: string, store: string): Promise<void> {
  const { json, other } = await logLines(log)
  const fatal = json.filter((l) => l.level === 'fatal')
  expect(fatal, `fatal lines in ${log}`).toHaveLength(1)
  expect(fatal[0]?.store).toBe(store)
  expect(fatal[0]?.cause).toMatch(/No space left on device/)
  expect(fatal[0]?.msg).toContain(store)
  expect(fatal[0]?.msg).toMatch(/No space left on device/)
  expect(other.filter((l) => /^\s+at /.test(l)), 'a stack trace was printed').toEqual([])
  expect(json.filter((l) => l.level === 'error' && /dropped damaged parts/.test(l.msg))).toEqual([])
}

afterAll(() => { killTracked() })

describe.skipIf(!support.ok)(`full disk, real processes${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  it('coordinator: exits 74 with one fatal line at the first failed write, and after a restart serves every epoch it answered 200 for', async () => {
    const dir = await makeTempDir('ephemera-fulldisk-')
    const mnt = join(dir, 'data')
    await mountTmpfs(mnt, 8 * 1024 * 1024)
    try {
      const port = await freePortBlock(1)
      const url = `http://127.0.0.1:${port}`
      const peers = join(dir, 'peers.toml')
      await writeFile(peers, MEMBERS.map((m) => `[[members]]\nname = "${m.name}"\npeer_id = "${m.peerId}"\naddress = "${m.address}"\n`).join('\n'))
      const config = join(dir, 'coordinator.toml')
      // the fixtures' committee and parameters: 4 members, 20 mixnodes, median, q = 3, f + 1 = 2
      await writeFile(config, `peers_file = "${peers}"\ndata_dir = "${mnt}"\nenvironment = "testing"\nepoch_ms = 500\n\n[rewards]\nmixnodes = ${MIXNODES}\n\n[http]\nport = ${port}\n`)
      const store = join(mnt, 'db')

      const first = startCli(['contract', 'run', '--config', config], join(dir, 'coordinator-1.log'))
      await waitFor(async () => (await getJson(`${url}/contract/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the coordinator to start' })
      const { genesisMs } = await getJson<{ genesisMs: number }>(`${url}/contract/epoch`)
      // a few records' worth of room (a record here is ~10 KB): the disk fills after a handful of epochs
      await fillDisk(mnt, 160 * 1024)

      const accepted = new Map<number, { winner: string, blockHash: string | null }>()
      let refusedWith: string | undefined
      for (let epoch = 1; epoch <= 400 && first.exitCode == null && refusedWith == null; epoch++) {
        const endMs = genesisMs + epoch * 500
        if (Date.now() < endMs) await new Promise((resolve) => setTimeout(resolve, endMs - Date.now() + 5))
        const submission = consensusSubmission({ epoch, creator: epoch % 4 }).submission
        const signer = KEYS[epoch % 4] as NodeKey
        const body = JSON.stringify(submission)
        const path = `/contract/epochs/${epoch}/submissions`
        try {
          const res = await fetch(`${url}${path}`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json', ...signRequest(signer.publicKey, (b) => signer.sign(b), 'POST', path, new TextEncoder().encode(body)) },
            signal: AbortSignal.timeout(5_000)
          })
          const answer = await res.json() as { status?: string, error?: string, winner?: { publicKey: string } }
          if (res.status === 200) {
            expect(answer.status).toBe('accepted')
            accepted.set(epoch, { winner: answer.winner?.publicKey ?? '', blockHash: submission.blockHash })
          } else {
            refusedWith = `${res.status} ${answer.error ?? ''}`
          }
        } catch (err) {
          // the process exited while answering: that submission was never acknowledged
          refusedWith = String(err)
        }
      }
      const exit = await waitForExit(first, 10_000)
      expect(exit.code, `the coordinator ended with ${refusedWith ?? 'nothing refused'}`).toBe(EXIT_STORAGE_FAILED)
      expect(accepted.size, 'no submission was accepted before the disk filled').toBeGreaterThan(2)
      await expectOneFatalLine(join(dir, 'coordinator-1.log'), store)

      // free the space and start again: every epoch answered 200 is still there, and the genesis
      await rm(join(mnt, 'junk'))
      const second = startCli(['contract', 'run', '--config', config], join(dir, 'coordinator-2.log'))
      try {
        await waitFor(async () => (await getJson(`${url}/contract/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the coordinator to restart' })
        expect((await getJson<{ genesisMs: number }>(`${url}/contract/epoch`)).genesisMs).toBe(genesisMs)
        for (const [epoch, want] of accepted) {
          const record = await getJson<{ epoch: number, winner: { publicKey: string }, submission: { blockHash: string | null } }>(`${url}/contract/epochs/${epoch}`)
          expect(record.epoch).toBe(epoch)
          expect(record.winner.publicKey).toBe(want.winner)
          expect(record.submission.blockHash).toBe(want.blockHash)
        }
        const { json } = await logLines(join(dir, 'coordinator-2.log'))
        expect(json.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([])
      } finally {
        second.kill('SIGTERM')
        await waitForExit(second, 15_000)
      }
    } finally {
      killTracked()
      await unmountTmpfs(mnt)
      await removeDir(dir)
    }
  }, 120_000)

  it('node: exits 74 with one fatal line at the first failed write, and after a restart serves every block it served, at the same local height', async () => {
    const dir = await makeTempDir('ephemera-fulldisk-')
    const mnt = join(dir, 'data')
    await mountTmpfs(mnt, 8 * 1024 * 1024)
    try {
      const base = await freePortBlock(3)
      const init = await runCli(['init', '--nodes', '1', '--app', 'messages', '--out', join(dir, 'net'), '--base-port', String(base), '--json'])
      expect(init.code, init.stderr).toBe(0)
      const node = (JSON.parse(init.stdout) as { nodes: Array<{ configFile: string, httpUrl: string }> }).nodes[0] as { configFile: string, httpUrl: string }
      const url = node.httpUrl
      const args = ['node', 'run', '--config', node.configFile, '--data-dir', mnt, '--set', 'broadcast.block_interval_ms=200']
      const store = join(mnt, 'db')

      const first = startCli(args, join(dir, 'node-1.log'))
      await waitFor(async () => (await getJson(`${url}/ephemera/node/health`)).status === 'ok', { timeoutMs: 30_000, what: 'the node to start' })
      // room for a few blocks of 32 KiB messages (each block is written as a proposal, then delivered;
      // how many messages a block holds depends on timing, so how many blocks fit does too)
      await fillDisk(mnt, 2 * 1024 * 1024)

      const client = NodeKey.generate()
      const served = new Map<string, number>()
      const record = async (): Promise<void> => {
        const list = await getJson<{ blocks: Array<{ hash: string, localHeight: number }> }>(`${url}/ephemera/broadcast/blocks?limit=1000&order=asc`)
        for (const b of list.blocks) {
          const had = served.get(b.hash)
          if (had != null) expect(b.localHeight).toBe(had)
          served.set(b.hash, b.localHeight)
        }
      }
      const deadline = Date.now() + 60_000
      for (let i = 0; first.exitCode == null && Date.now() < deadline; i++) {
        try {
          await postJson(`${url}/ephemera/broadcast/submit_message`, signedMessage(client, 'fill', new Uint8Array(32 * 1024).fill(i % 256)))
          // after every submission: every block the node served before it stopped is checked later
          await record()
        } catch {
          // the process is going down
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const exit = await waitForExit(first, 10_000)
      expect(exit.code).toBe(EXIT_STORAGE_FAILED)
      // the test needs something served to check (what it checks is that all of it survives)
      expect(served.size, 'no block was served before the disk filled').toBeGreaterThan(0)
      await expectOneFatalLine(join(dir, 'node-1.log'), store)

      await rm(join(mnt, 'junk'))
      const second = startCli(args, join(dir, 'node-2.log'))
      try {
        await waitFor(async () => (await getJson(`${url}/ephemera/node/health`)).status === 'ok', { timeoutMs: 30_000, what: 'the node to restart' })
        for (const [hash, height] of served) {
          const block = await getJson<{ hash: string, localHeight: number }>(`${url}/ephemera/broadcast/block/${hash}`)
          expect(block.localHeight).toBe(height)
          expect((await getJson<{ hash: string }>(`${url}/ephemera/broadcast/block/height/${height}`)).hash).toBe(hash)
        }
        // a new block gets a new height: none is reused
        const res = await postJson(`${url}/ephemera/broadcast/submit_message`, signedMessage(client, 'after', 'restart'))
        expect(res.status).toBe(200)
        const id = (res.json as { id: string }).id
        const delivered = await waitFor(async () => {
          const m = await getJson<{ status: string, blockHash?: string }>(`${url}/ephemera/messages/${id}`)
          return m.status === 'delivered' ? m.blockHash : undefined
        }, { timeoutMs: 20_000, what: 'the message after the restart to be delivered' })
        const fresh = await getJson<{ localHeight: number }>(`${url}/ephemera/broadcast/block/${delivered as string}`)
        expect(Math.max(...served.values())).toBeLessThan(fresh.localHeight)
        const { json } = await logLines(join(dir, 'node-2.log'))
        expect(json.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([])
      } finally {
        second.kill('SIGTERM')
        await waitForExit(second, 15_000)
      }
    } finally {
      killTracked()
      await unmountTmpfs(mnt)
      await removeDir(dir)
    }
  }, 150_000)
})
