import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blockFromJson, certificateFromJson } from '../../src/block/json.js'
import { verifyCertifiedBlock } from '../../src/block/verify.js'
import { fromHex } from '../../src/codec/bytes.js'
import { NodeKey, verifySignature } from '../../src/crypto/keys.js'
import { Database, BlockStore, Bucket } from '../../src/storage/index.js'
import { encodeCbor } from '../../src/codec/cbor.js'
import { certificateToWire } from '../../src/block/wire.js'
import { killTracked, runCli } from '../helpers/cli.js'
import { freePortBlock, getJson, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'
import { postJson, signedMessage } from '../helpers/messages.js'

/**
 * Reliable broadcast across 4 real node processes: messages submitted over HTTP end up in a
 * certified block that every node stores; `blocks verify` passes on each; blocks still finalize
 * with a node killed; a tampered certificate fails verification with the reason.
 */

interface ClusterJson {
  nodes: Array<{ name: string, pid: number, httpUrl: string, peerId: string, configFile: string }>
}

interface MessageStatus {
  status: 'pending' | 'delivered'
  blockHash?: string
  index?: number
}

describe('reliable broadcast on a 4-node cluster', () => {
  let dir: string
  let cluster: ClusterJson
  const client = NodeKey.generate()

  const url = (i: number): string => cluster.nodes[i]!.httpUrl
  const deliveredOn = async (nodeUrl: string, id: string): Promise<string | undefined> => {
    const res = await fetch(`${nodeUrl}/ephemera/messages/${id}`)
    if (!res.ok) return undefined
    const status = await res.json() as MessageStatus
    return status.status === 'delivered' ? status.blockHash : undefined
  }
  /** Verifies a node's stored copy of a block with the independent (noble) verifier, in-process. */
  const verifyStored = async (nodeUrl: string, hash: string): Promise<ReturnType<typeof verifyCertifiedBlock>> => {
    const block = blockFromJson(await getJson(`${nodeUrl}/ephemera/broadcast/block/${hash}`))
    const certificate = certificateFromJson(await getJson(`${nodeUrl}/ephemera/broadcast/block/certificates/${hash}`))
    const info = await getJson<{ members: Array<{ publicKey: string }> }>(`${nodeUrl}/ephemera/broadcast/block/broadcast_info/${hash}`)
    if (!block.ok || !certificate.ok) throw new Error('malformed block or certificate JSON')
    return verifyCertifiedBlock({ ...block.value, certificate: certificate.value, members: info.members.map((m) => fromHex(m.publicKey) as Uint8Array), verify: verifySignature })
  }

  beforeAll(async () => {
    dir = await makeTempDir()
    const base = await freePortBlock(20)
    const up = await runCli(['cluster', 'up', '--nodes', '4', '--dir', dir, '--base-port', String(base), '--app', 'messages', '--detach', '--timeout', '40'], { timeoutMs: 60_000, env: { LOG_LEVEL: 'info' } })
    expect(up.code, up.stderr).toBe(0)
    cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
  }, 70_000)

  afterAll(async () => {
    await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    killTracked()
    await removeDir(dir)
  })

  it('puts messages submitted over HTTP into a block that every node delivers and stores with a valid certificate', async () => {
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      const res = await postJson(`${url(i % 4)}/ephemera/broadcast/submit_message`, signedMessage(client, 'integration', `message ${i}`))
      expect(res.status, JSON.stringify(res.json)).toBe(200)
      expect(res.json.status).toBe('accepted')
      ids.push(res.json.id as string)
    }
    for (const id of ids) {
      const hashes = await waitFor(async () => {
        const found = await Promise.all(cluster.nodes.map(async (n) => await deliveredOn(n.httpUrl, id)))
        return found.every((h) => h != null) ? found : undefined
      }, { timeoutMs: 20_000, what: `message ${id} delivered on every node` })
      expect(new Set(hashes).size, 'every node stores the message in the same block').toBe(1)
      for (const node of cluster.nodes) {
        const report = await verifyStored(node.httpUrl, hashes[0]!)
        expect(report.ok, `${node.name}: ${report.failure ?? ''}`).toBe(true)
        expect(report.signers).toBeGreaterThanOrEqual(3)
      }
    }
    // the Merkle inclusion proof endpoint agrees
    const hash = (await deliveredOn(url(0), ids[0]!))!
    const proof = await postJson(`${url(1)}/ephemera/messages/verify`, { blockHash: hash, messageId: ids[0] })
    expect(proof.status).toBe(200)
    expect(proof.json.verified).toBe(true)
  }, 60_000)

  it('`ephemera blocks verify` passes on each node, also against the peers file', async () => {
    for (const node of cluster.nodes) {
      const result = await runCli(['blocks', 'verify', 'last', '--node', node.httpUrl])
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(/verified: [34] of 4 members signed \(quorum 3\)/)
      expect(result.stdout).not.toContain('FAIL')
    }
    const withPeers = await runCli(['blocks', 'verify', 'last', '--node', url(2), '--peers', join(dir, 'peers.toml'), '--json'])
    expect(withPeers.code, withPeers.stderr).toBe(0)
    expect(JSON.parse(withPeers.stdout)).toMatchObject({ ok: true, quorum: 3 })
    const list = await runCli(['blocks', 'list', '--node', url(3), '--json'])
    expect(list.code).toBe(0)
    expect((JSON.parse(list.stdout) as { blocks: unknown[] }).blocks.length).toBeGreaterThan(0)
  }, 30_000)

  it('pushes each delivered block over the WebSocket', async () => {
    const ws = new WebSocket(`${url(0).replace('http', 'ws')}/ephemera/broadcast/ws`)
    const frames: Array<{ type: string, block: { hash: string, messages: Array<{ id: string }> } }> = []
    ws.on('message', (data) => { frames.push(JSON.parse(String(data))) })
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    try {
      const res = await postJson(`${url(2)}/ephemera/broadcast/submit_message`, signedMessage(client, 'ws', 'pushed'))
      expect(res.status).toBe(200)
      const frame = await waitFor(() => frames.find((f) => f.block.messages.some((m) => m.id === res.json.id)), { timeoutMs: 20_000, what: 'a pushed block with the message' })
      expect(frame.type).toBe('block')
      expect(frame.block.hash).toMatch(/^[0-9a-f]{64}$/)
    } finally {
      ws.close()
    }
  }, 30_000)

  it('answers bad input with 4xx and a reason, never 5xx', async () => {
    const submit = `${url(0)}/ephemera/broadcast/submit_message`
    const good = signedMessage(client, 'bad-input', 'x')
    const cases: Array<[unknown, number, RegExp]> = [
      ['{not json', 400, /json/i],
      [{}, 400, /invalid message/],
      [{ ...good, signature: good.signature.replace(/^../, good.signature.startsWith('00') ? '11' : '00') }, 400, /signature does not verify/],
      [{ ...good, publicKey: 'abc' }, 400, /publicKey/],
      [{ ...good, data: '***' }, 400, /data/],
      [signedMessage(client, 'old', 'replay?', Date.now() - 3_600_000), 400, /rejected by the application: timestamp is \d+ s in the past/],
      [signedMessage(client, 'big', new Uint8Array(70 * 1024)), 400, /data is larger than/]
    ]
    for (const [body, status, message] of cases) {
      const res = await postJson(submit, body)
      expect(res.status, JSON.stringify(res.json)).toBe(status)
      expect(res.json.message).toMatch(message)
    }
    const first = await postJson(submit, good)
    expect(first.status).toBe(200)
    const again = await postJson(submit, good)
    expect(again.status).toBe(409)
    expect(again.json.error).toBe('ERR_DUPLICATE')
    for (const [path, status] of [
      ['/ephemera/broadcast/block/zz', 400],
      ['/ephemera/broadcast/block/' + '0'.repeat(64), 404],
      ['/ephemera/broadcast/block/height/0', 400],
      ['/ephemera/broadcast/block/height/99999', 404],
      ['/ephemera/broadcast/block/certificates/' + 'ab'.repeat(32), 404],
      ['/ephemera/broadcast/blocks?limit=-1', 400],
      ['/ephemera/messages/nothex', 400]
    ] as const) {
      const res = await fetch(`${url(1)}${path}`)
      expect(res.status, path).toBe(status)
      expect(((await res.json()) as { error: string }).error).toMatch(/^ERR_/)
    }
    const verify = await postJson(`${url(1)}/ephemera/messages/verify`, { blockHash: 'x', messageId: 1 })
    expect(verify.status).toBe(400)
  }, 30_000)

  it('still finalizes blocks with one node killed', async () => {
    const victim = cluster.nodes[3]!
    process.kill(victim.pid, 'SIGKILL')
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const res = await postJson(`${url(i % 3)}/ephemera/broadcast/submit_message`, signedMessage(client, 'degraded', `with a node down ${i}`))
      expect(res.status).toBe(200)
      ids.push(res.json.id as string)
    }
    for (const id of ids) {
      // a message is included at least once (docs/PROTOCOL.md §5): with a member down, another
      // member may include it too. What every live node promises: it delivers the message, and
      // once they hold the same blocks they all name the same canonical one (the lowest hash).
      const statuses = await waitFor(async () => {
        const found = await Promise.all(cluster.nodes.slice(0, 3).map(async (n) => {
          const res = await fetch(`${n.httpUrl}/ephemera/messages/${id}`)
          return res.ok ? await res.json() as MessageStatus & { locations?: Array<{ blockHash: string }> } : undefined
        }))
        if (!found.every((s) => s?.status === 'delivered')) return undefined
        const sets = found.map((s) => JSON.stringify(s?.locations))
        return new Set(sets).size === 1 ? found : undefined
      }, { timeoutMs: 30_000, what: `message ${id} delivered by the 3 live nodes, in the same blocks` })
      expect(new Set(statuses.map((s) => s?.blockHash)).size).toBe(1)
      for (const location of statuses[0]?.locations ?? []) {
        const report = await verifyStored(url(0), location.blockHash)
        expect(report.ok, report.failure).toBe(true)
      }
    }
    // bring it back for the next test
    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(up.code, up.stderr).toBe(0)
    cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
  }, 90_000)

  it('makes `blocks verify` fail with the reason when a stored certificate is tampered with', async () => {
    const node = cluster.nodes[0]!
    const last = await getJson<{ hash: string }>(`${node.httpUrl}/ephemera/broadcast/blocks/last`)
    // stop the node gracefully to release its database, flip one byte of one signature, restart
    process.kill(node.pid, 'SIGTERM')
    await waitFor(async () => (await processesMentioning(node.configFile)).length === 0, { timeoutMs: 15_000, what: 'node1 to stop' })
    const db = await Database.open(join(dir, 'node1', 'data'))
    try {
      const store = await BlockStore.open(db)
      const certificate = await store.certificate(last.hash)
      expect(certificate).toBeDefined()
      const signature = certificate!.signatures[0]!.signature
      signature[10] = (signature[10] as number) ^ 0xff
      await db.bucket(Bucket.certificate).put(last.hash, encodeCbor(certificateToWire(certificate!)))
    } finally {
      await db.close()
    }
    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(up.code, up.stderr).toBe(0)
    const result = await runCli(['blocks', 'verify', last.hash, '--node', node.httpUrl])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/FAIL {2}certificate signatures: signature 0 \(by 12D3KooW\w+\): signature does not verify/)
    expect(result.stderr).toMatch(/^error: verification failed: certificate signatures: signature 0 \(by 12D3KooW\w+\): signature does not verify\n$/)
    // the other nodes' copies are intact
    const other = await runCli(['blocks', 'verify', last.hash, '--node', url(1)])
    expect(other.code, other.stderr).toBe(0)
  }, 90_000)
})

describe('sync', () => {
  it('refills a member whose data directory was wiped with every certified block, verified', async () => {
    const dir = await makeTempDir()
    try {
      const base = await freePortBlock(12)
      const up = await runCli(['cluster', 'up', '--nodes', '4', '--dir', dir, '--base-port', String(base), '--app', 'messages', '--detach'], { timeoutMs: 60_000, env: { LOG_LEVEL: 'info' } })
      expect(up.code, up.stderr).toBe(0)
      const cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
      const client = NodeKey.generate()
      const ids: string[] = []
      for (let i = 0; i < 5; i++) {
        const res = await postJson(`${cluster.nodes[i % 4]!.httpUrl}/ephemera/broadcast/submit_message`, signedMessage(client, 'sync', `before the wipe ${i}`))
        ids.push(res.json.id as string)
      }
      const hashesOf = async (nodeUrl: string): Promise<string[]> => (await getJson<{ blocks: Array<{ hash: string }> }>(`${nodeUrl}/ephemera/broadcast/blocks?limit=1000`)).blocks.map((b) => b.hash).sort()
      await waitFor(async () => {
        for (const node of cluster.nodes) {
          for (const id of ids) {
            const res = await fetch(`${node.httpUrl}/ephemera/messages/${id}`)
            if (!res.ok || ((await res.json()) as MessageStatus).status !== 'delivered') return false
          }
        }
        return true
      }, { timeoutMs: 30_000, what: 'every message delivered everywhere' })
      const expected = await hashesOf(cluster.nodes[0]!.httpUrl)
      expect(expected.length).toBeGreaterThan(0)

      // node3 loses its data: stop it, delete its data dir, start it again
      const victim = cluster.nodes[2]!
      process.kill(victim.pid, 'SIGTERM')
      await waitFor(async () => (await processesMentioning(victim.configFile)).length === 0, { timeoutMs: 15_000, what: 'node3 to stop' })
      const { rm } = await import('node:fs/promises')
      await rm(join(dir, 'node3', 'data'), { recursive: true, force: true })
      const again = await runCli(['cluster', 'up', '--dir', dir, '--detach'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
      expect(again.code, again.stderr).toBe(0)
      await waitFor(async () => JSON.stringify(await hashesOf(victim.httpUrl)) === JSON.stringify(expected), { timeoutMs: 30_000, what: 'node3 to sync every block' })
      const status = await getJson<{ synced: number }>(`${victim.httpUrl}/ephemera/broadcast/status`)
      expect(status.synced).toBe(expected.length)
      const verify = await runCli(['blocks', 'verify', expected[0]!, '--node', victim.httpUrl, '--peers', join(dir, 'peers.toml')])
      expect(verify.code, verify.stderr).toBe(0)
    } finally {
      await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
      for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
      await removeDir(dir)
    }
  }, 120_000)
})

describe('a one-node network', () => {
  let dir: string

  beforeAll(async () => {
    dir = await makeTempDir()
  })

  afterAll(async () => {
    await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    await removeDir(dir)
  })

  it('certifies its own blocks (n = 1, q = 1) and answers 429 when the mempool is full', async () => {
    const base = await freePortBlock(4)
    const up = await runCli(['cluster', 'up', '--nodes', '1', '--dir', dir, '--base-port', String(base), '--app', 'messages', '--detach'], { timeoutMs: 45_000 })
    expect(up.code, up.stderr).toBe(0)
    const node = `http://127.0.0.1:${base + 2}`
    const client = NodeKey.generate()
    const res = await postJson(`${node}/ephemera/broadcast/submit_message`, signedMessage(client, 'solo', 'alone'))
    expect(res.status).toBe(200)
    await waitFor(async () => (await getJson<MessageStatus>(`${node}/ephemera/messages/${res.json.id as string}`)).status === 'delivered', { timeoutMs: 15_000, what: 'the solo block' })
    const verify = await runCli(['blocks', 'verify', 'last', '--node', node])
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toContain('verified: 1 of 1 members signed (quorum 1)')
    await runCli(['cluster', 'down', '--dir', dir])

    // no block production and a 2-message mempool: the third message is refused with 429
    const config = join(dir, 'node1', 'config.toml')
    const { startCli, waitForExit } = await import('../helpers/cli.js')
    const child = startCli(['node', 'run', '--config', config, '--set', 'mempool.max_messages=2', '--set', 'broadcast.produce_blocks=false'], join(dir, 'small.log'))
    try {
      await waitFor(async () => (await getJson(`${node}/ephemera/node/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the node to start' })
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await postJson(`${node}/ephemera/broadcast/submit_message`, signedMessage(client, 'fill', `m${i}`))).status)
      expect(statuses).toEqual([200, 200, 429])
    } finally {
      child.kill('SIGTERM')
      await waitForExit(child, 10_000)
    }
  }, 90_000)
})
