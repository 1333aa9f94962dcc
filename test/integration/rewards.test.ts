import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EpochRecordJson } from '../../src/epochs/record.js'
import { decodeReport, MISSING } from '../../src/epochs/report.js'
import { fromBase64, fromHex, toHex } from '../../src/codec/bytes.js'
import { Bucket, Database, jsonBytes, parseJsonBytes } from '../../src/storage/index.js'
import { killTracked, runCli, startCli, waitForExit } from '../helpers/cli.js'
import { signRequest } from '../../src/epochs/auth.js'
import { readySigningBytes } from '../../src/block/encoding.js'
import { NodeKey, publicKeyFromPeerId, readKeyFile } from '../../src/crypto/keys.js'
import { leaseHolder } from '../../src/epochs/rotation.js'
import { freePortBlock, getJson, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'
import { wsConnect } from '../helpers/ws-client.js'
import { committedSummary } from '../../src/epochs/epoch-summary.js'

/**
 * Rewards end to end with real processes: a coordinator and 4 nodes (2-second epochs) commit
 * consecutive epochs, every node stores the same official record, `ephemera verify` passes; a
 * skewed node cannot move the result outside the honest range; epochs keep committing with a
 * node killed; a tampered record makes `verify` fail and say what.
 */

interface ClusterJson {
  coordinator: { pid: number, httpUrl: string, configFile: string }
  nodes: Array<{ name: string, pid: number, httpUrl: string, peerId: string, configFile: string }>
}

interface EpochList {
  currentEpoch: number
  epochs: Array<{ epoch: number, status: string, winner?: string, blockHash?: string | null }>
}

async function startCluster (dir: string, edit?: (dir: string) => Promise<void>): Promise<ClusterJson> {
  const base = await freePortBlock(12)
  const init = await runCli(['init', '--nodes', '4', '--out', dir, '--base-port', String(base), '--environment', 'testing'])
  expect(init.code, init.stderr).toBe(0)
  if (edit != null) await edit(dir)
  const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '40'], { timeoutMs: 60_000, env: { LOG_LEVEL: 'info' } })
  expect(up.code, up.stderr).toBe(0)
  return JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
}

/** A config edit for startCluster: nodes misbehave (test-only fault modes), e.g. { node4: 'skewed' }. */
function faults (byNode: Record<string, 'skewed' | 'silent' | 'equivocate'>): (dir: string) => Promise<void> {
  return async (dir) => {
    for (const [name, fault] of Object.entries(byNode)) {
      const file = join(dir, name, 'config.toml')
      await writeFile(file, (await readFile(file, 'utf8')).replace('[rewards]\n', `[rewards]\nfault = "${fault}"\n`))
    }
  }
}

async function stopCluster (dir: string): Promise<void> {
  await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
  for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
}

/** The committee's public keys, sorted (the order of every rotation). */
const SORTED = (cluster: ClusterJson): string[] => cluster.nodes.map((n) => toHex(publicKeyFromPeerId(n.peerId))).sort()

/** The coordinator's round events for an epoch, from its log (one JSON line each). */
async function coordinatorEvents (dir: string, epoch: number): Promise<Array<{ kind: string, detail: string }>> {
  const lines = (await readFile(join(dir, 'logs', 'coordinator.log'), 'utf8')).split('\n')
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { epoch?: number, kind?: string, detail?: string })
    .filter((l) => l.epoch === epoch && typeof l.kind === 'string').map((l) => ({ kind: l.kind as string, detail: l.detail ?? '' }))
}

/** The committed epochs, newest first. */
async function committed (contract: string): Promise<number[]> {
  const list = await getJson<EpochList>(`${contract}/contract/epochs?limit=50`)
  return list.epochs.filter((e) => e.status === 'committed').map((e) => e.epoch)
}

/** Waits for `count` consecutive committed epochs all after `after`; returns them ascending. */
async function consecutive (contract: string, count: number, after: number, timeoutMs: number): Promise<number[]> {
  return await waitFor(async () => {
    const done = new Set(await committed(contract))
    for (const e of [...done].sort((a, b) => a - b)) {
      if (e <= after) continue
      const run = Array.from({ length: count }, (_, i) => e + i)
      if (run.every((x) => done.has(x))) return run
    }
    return undefined
  }, { timeoutMs, intervalMs: 250, what: `${count} consecutive committed epochs after epoch ${after}` })
}

describe('rewards: coordinator + 4 nodes', () => {
  let dir: string
  let cluster: ClusterJson
  let contract: string
  /** Epochs after this one ran with every node up (earlier ones may have ended while nodes started). */
  let startEpoch: number

  beforeAll(async () => {
    dir = await makeTempDir()
    cluster = await startCluster(dir)
    contract = cluster.coordinator.httpUrl
    startEpoch = (await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)).currentEpoch
  }, 90_000)

  afterAll(async () => {
    await stopCluster(dir)
    killTracked()
    await removeDir(dir)
  })

  it('commits 3 consecutive epochs, one accepted submission each; every node stores the same record; verify passes', async () => {
    const epochs = await consecutive(contract, 3, startEpoch, 40_000)
    for (const epoch of epochs) {
      const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${epoch}`)
      expect(record.submission.mode).toBe('consensus')
      expect(record.submission.certificate!.signatures.length).toBeGreaterThanOrEqual(3)
      // every node adopts the same official record; exactly one of them had its submission accepted
      const views = await waitFor(async () => {
        const all = await Promise.all(cluster.nodes.map(async (n) => await getJson<{ progress: { state: string, submission?: string } | null, official: EpochRecordJson | null }>(`${n.httpUrl}/ephemera/rewards/epochs/${epoch}`)))
        return all.every((v) => v.progress?.state === 'committed') ? all : undefined
      }, { timeoutMs: 20_000, what: `every node to commit epoch ${epoch}` })
      for (const [i, view] of views.entries()) expect(isDeepStrictEqual(view.official, record), `${cluster.nodes[i]!.name} stores the coordinator's record for epoch ${epoch}`).toBe(true)
      expect(views.filter((v) => v.progress?.submission === 'accepted').map((v) => v.progress?.submission), `epoch ${epoch}: exactly one accepted submission`).toHaveLength(1)
      expect(views.find((v, i) => v.progress?.submission === 'accepted' && cluster.nodes[i]!.name === record.winner.name)).toBeDefined()

      // the round: 100 mixnodes in chunks of 25, each uploaded once, by its lease holder, and
      // verified by 2 other members (checked by verify below, signatures included)
      const events = await coordinatorEvents(dir, epoch)
      expect(record.chunks?.map((c) => [c.from, c.to])).toEqual([[0, 25], [25, 50], [50, 75], [75, 100]])
      for (const chunk of record.chunks!) {
        // the holder of the lease attempt the coordinator had reached for the chunk: 0 unless a lease expired
        const passed = events.filter((e) => e.kind === 'lease-expired' && e.detail.startsWith(`chunk ${chunk.index}:`)).length
        const attempt = events.filter((e) => e.kind === 'rollback').length
        expect(chunk.contributor, `epoch ${epoch} chunk ${chunk.index}`).toBe(leaseHolder(SORTED(cluster), epoch, chunk.index, passed, attempt))
        expect(new Set(chunk.verifications.map((v) => v.verifier)).size).toBe(2)
        expect(chunk.verifications.map((v) => v.verifier)).not.toContain(chunk.contributor)
      }

      const verify = await runCli(['verify', '--epoch', String(epoch), '--contract', contract, '--node', cluster.nodes[epoch % 4]!.httpUrl])
      expect(verify.code, verify.stdout + verify.stderr).toBe(0)
      expect(verify.stdout).toMatch(/verified: epoch \d+'s rewards are certified by [34] of 4 members/)
      expect(verify.stdout).toMatch(/ok {4}chunk signatures: 4 contributions and 8 verifications signed by their assigned members/)
      expect(verify.stdout).not.toContain('FAIL')
    }
    const list = await runCli(['epochs', 'list', '--contract', contract, '--json'])
    expect(list.code).toBe(0)
    expect((JSON.parse(list.stdout) as EpochList).epochs.some((e) => e.status === 'committed')).toBe(true)
    const show = await runCli(['epochs', 'show', String(epochs[0]), '--contract', contract])
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/winner {7}node\d/)
  }, 60_000)

  it('pushes committed epochs over WebSocket: the coordinator as it commits, each node as it adopts the record; both resume from a point', async () => {
    const clients: Array<() => void> = []
    const ws = (url: string, path: string): string => `${url.replace(/^http/, 'ws')}${path}`
    try {
      const node = await wsConnect(`${ws(cluster.nodes[1]!.httpUrl, '/ephemera/broadcast/ws')}?types=block,epoch`, (fn) => { clients.push(fn) })
      const coordinator = await wsConnect(`${ws(contract, '/contract/ws')}?types=epoch,rollback`, (fn) => { clients.push(fn) })
      const adopted = await waitFor(() => node.frames.find((f) => f.type === 'epoch'), { timeoutMs: 30_000, what: 'node2 to push an adopted epoch' })
      const epoch = adopted.epoch.epoch as number
      const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${epoch}`)
      expect(adopted).toEqual({ type: 'epoch', epoch: committedSummary(record) })
      const pushed = await waitFor(() => coordinator.frames.find((f) => f.type === 'epoch'), { timeoutMs: 30_000, what: 'the coordinator to push a committed epoch' })
      expect(pushed).toEqual({ type: 'epoch', epoch: committedSummary(await getJson<EpochRecordJson>(`${contract}/contract/epochs/${pushed.epoch.epoch as number}`)) })
      // the block of the adopted epoch came first, as node2 delivered it
      const block = node.frames.find((f) => f.type === 'block' && f.block.hash === record.submission.blockHash)
      if (block != null) expect(node.frames.indexOf(block)).toBeLessThan(node.frames.indexOf(adopted))
      // resume: node2's stored blocks from a height, the coordinator's records from an epoch
      const last = (await getJson<{ lastHeight: number }>(`${cluster.nodes[1]!.httpUrl}/ephemera/broadcast/blocks?limit=1`)).lastHeight
      const from = Math.max(1, last - 2)
      const replay = await wsConnect(`${ws(cluster.nodes[1]!.httpUrl, '/ephemera/broadcast/ws')}?from_height=${from}`, (fn) => { clients.push(fn) })
      const end = await waitFor(() => replay.frames.find((f) => f.type === 'replayed'), { timeoutMs: 10_000, what: 'the end of the block replay' })
      const replayed = replay.frames.slice(0, replay.frames.indexOf(end)).map((f) => f.block.localHeight as number)
      expect(replayed).toEqual(Array.from({ length: end.replayed.toHeight - from + 1 }, (_, i) => from + i))
      const records = await wsConnect(`${ws(contract, '/contract/ws')}?from_epoch=${epoch}&types=epoch`, (fn) => { clients.push(fn) })
      await waitFor(() => records.frames.some((f) => f.type === 'replayed'), { timeoutMs: 10_000, what: 'the end of the record replay' })
      expect(records.frames[0]).toEqual({ type: 'epoch', epoch: committedSummary(record) })
    } finally {
      for (const close of clients) close()
    }
  }, 60_000)

  it('`contract status` shows the open rounds: leases with deadlines, contributions, verifications', async () => {
    const json = await runCli(['contract', 'status', '--contract', contract, '--json'])
    expect(json.code, json.stderr).toBe(0)
    const status = JSON.parse(json.stdout) as { epoch: number, environment: { chunkSize: number }, rounds: Array<{ epoch: number, status: string, chunks: Array<{ lease: { holder: string, deadline: number } }> }> }
    expect(status.environment.chunkSize).toBe(25)
    for (const r of status.rounds) {
      expect(r.status).toBe('open')
      expect(r.epoch).toBeLessThan(status.epoch)
      expect(r.chunks).toHaveLength(4)
    }
    const text = await runCli(['contract', 'status', '--contract', contract])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^epoch \d+ running \(ends in [\d.]+ s\); testing: chunks of 25 mixnodes/)
  })

  it('a node that was down across epoch ends adopts their official records when it is back', async () => {
    const node = cluster.nodes[1]!
    const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
    const pid = state.nodes[1]!.pid
    process.kill(pid, 'SIGTERM')
    await waitFor(async () => (await processesMentioning(node.configFile)).length === 0, { timeoutMs: 15_000, what: `${node.name} to stop` })
    const stoppedIn = (await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)).currentEpoch
    const missed = await consecutive(contract, 2, stoppedIn, 30_000)
    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(up.code, up.stderr).toBe(0)
    for (const epoch of missed) {
      const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${epoch}`)
      await waitFor(async () => {
        const view = await getJson<{ progress: { state: string, submission?: string } | null, official: EpochRecordJson | null }>(`${node.httpUrl}/ephemera/rewards/epochs/${epoch}`).catch(() => undefined)
        return view?.official != null && isDeepStrictEqual(view.official, record) && view.progress?.submission === 'learned-from-coordinator'
      }, { timeoutMs: 20_000, what: `${node.name} to adopt the record of epoch ${epoch} it missed` })
    }
    const verify = await runCli(['verify', '--epoch', String(missed[0]), '--contract', contract, '--node', node.httpUrl])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  }, 90_000)

  it('keeps committing epochs with one node killed: the chunk it was leased passes to the next member', async () => {
    const victim = cluster.nodes[3]!
    const victimKey = toHex(publicKeyFromPeerId(victim.peerId))
    process.kill(victim.pid, 'SIGKILL')
    const killedIn = (await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)).currentEpoch
    const epochs = await consecutive(contract, 2, killedIn, 40_000)
    for (const epoch of epochs) {
      const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${epoch}`)
      expect(record.winner.name).not.toBe(victim.name)
      // with 4 chunks and 4 members, the victim is offered one chunk's first lease in every epoch
      const events = await coordinatorEvents(dir, epoch)
      for (const chunk of record.chunks!) {
        expect(chunk.contributor).not.toBe(victimKey)
        expect(chunk.verifications.map((v) => v.verifier)).not.toContain(victimKey)
        if (leaseHolder(SORTED(cluster), epoch, chunk.index, 0, record.attempt ?? 0) === victimKey) {
          expect(events.some((e) => e.kind === 'lease-expired' && e.detail.startsWith(`chunk ${chunk.index}: ${victimKey} never locked it`)), `epoch ${epoch}: chunk ${chunk.index} passed on`).toBe(true)
        }
      }
      const verify = await runCli(['verify', '--epoch', String(epoch), '--contract', contract, '--peers', join(dir, 'peers.toml')])
      expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    }
  }, 60_000)

  it('refuses to restart the coordinator with another epoch length, and leaves the running cluster alone', async () => {
    const before = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
    process.kill(before.coordinator.pid, 'SIGTERM')
    await waitFor(async () => (await processesMentioning(before.coordinator.configFile)).length === 0, { timeoutMs: 15_000, what: 'the coordinator to stop' })
    const changed = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--epoch-seconds', '4', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(changed.code).toBe(1)
    // refused before anything starts (it used to start the coordinator and watch it die)
    expect(changed.stderr).toMatch(/^error: the coordinator's data in .* was made with 2 s epochs, but this start would use 4 s \(from --epoch-seconds 4\): .*`ephemera cluster clear --dir .*`; nothing was started\n$/)
    expect(changed.stdout).not.toContain('started coordinator')
    // the nodes it found running are still running
    for (const n of before.nodes.slice(0, 3)) expect((await processesMentioning(n.configFile)).length, `${n.name} still runs`).toBe(1)
    const again = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(again.code, again.stderr).toBe(0)
  }, 90_000)

  it('serves Prometheus metrics on nodes and the coordinator: every documented one, with epochs counted', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## An epoch\'s life'))
    const documented = [...section.matchAll(/^\| `(ephemera_[a-z_]+)(?:\{[^}]*\})?` \| (node|coordinator) \|/gm)].map((m) => ({ name: m[1] as string, where: m[2] as string }))
    await consecutive(contract, 1, startEpoch, 30_000)
    const scrape = async (url: string): Promise<string> => {
      const res = await fetch(`${url}/metrics`)
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
      return await res.text()
    }
    const nodeText = await waitFor(async () => { const t = await scrape(cluster.nodes[0]!.httpUrl); return /^ephemera_epochs_total\{outcome="committed"\} [1-9]/m.test(t) ? t : undefined }, { timeoutMs: 20_000, what: 'node1 to count a committed epoch' })
    // counters start at 0 when a process starts (an earlier test may have restarted the coordinator,
    // and the first round it commits may have had its contributions accepted before the restart)
    const contractText = await waitFor(async () => {
      const t = await scrape(contract)
      return /^ephemera_contract_round_events_total\{kind="committed"\} [1-9]/m.test(t) && /^ephemera_contract_decisions_total\{decision="contribution",outcome="accepted"\} [1-9]/m.test(t) ? t : undefined
    }, { timeoutMs: 20_000, what: 'the coordinator to count a committed epoch and an accepted contribution' })
    for (const { name, where } of documented) {
      // histograms appear as _bucket/_sum/_count; labelled counters once a label value was seen
      expect(where === 'node' ? nodeText : contractText, `${where} exposes ${name}`).toMatch(new RegExp(`^# HELP ${name} `, 'm'))
    }
    expect(nodeText).toMatch(/^process_resident_memory_bytes \d+/m)
    expect(contractText).toMatch(/^ephemera_contract_decisions_total\{decision="contribution",outcome="accepted"\} [1-9]/m)
    expect(contractText).toMatch(/^ephemera_contract_round_events_total\{kind="committed"\} [1-9]/m)

    // RBC traffic by type: every node echoes and readies, and what it sends is acknowledged
    const value = (text: string, series: string): number => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1) ?? 0)
    for (const type of ['echo', 'ready']) {
      for (const series of ['ephemera_rbc_messages_sent_total', 'ephemera_rbc_messages_received_total', 'ephemera_rbc_bytes_sent_total', 'ephemera_rbc_bytes_received_total']) {
        expect(value(nodeText, `${series}{type="${type}"}`), `node1 ${series}{type="${type}"}`).toBeGreaterThan(0)
      }
    }
    expect(value(nodeText, 'ephemera_rbc_bytes_sent_total{type="ack"}')).toBeGreaterThan(0)
    expect(value(nodeText, 'ephemera_rbc_bytes_received_total{type="ack"}')).toBeGreaterThan(0)
    // some member proposed the blocks: a PROPOSE sent by one node is received by the others
    const all = await Promise.all(cluster.nodes.map(async (n) => await scrape(n.httpUrl)))
    expect(all.reduce((sum, t) => sum + value(t, 'ephemera_rbc_messages_sent_total{type="propose"}'), 0)).toBeGreaterThan(0)
    expect(value(nodeText, 'ephemera_rbc_messages_sent_total{type="propose"}') + value(nodeText, 'ephemera_rbc_messages_received_total{type="propose"}')).toBeGreaterThan(0)
    // storage: synced writes (votes, records) timed on the node and the coordinator, no errors
    expect(value(nodeText, 'ephemera_storage_write_seconds_count{sync="true"}')).toBeGreaterThan(0)
    expect(value(nodeText, 'ephemera_storage_errors_total{operation="write"}')).toBe(0)
    expect(value(contractText, 'ephemera_contract_storage_write_seconds_count{sync="true"}')).toBeGreaterThan(0)
    // the libp2p host's own metrics, in the same registry
    expect(value(nodeText, 'libp2p_connection_manager_connections{libp2p_connection_manager_connections="inbound"}') + value(nodeText, 'libp2p_connection_manager_connections{libp2p_connection_manager_connections="outbound"}')).toBeGreaterThan(0)
    expect(value(nodeText, 'libp2p_data_transfer_bytes_total{protocol="/ephemera/rbc/1.0.0 sent"}')).toBeGreaterThan(0)
    expect(value(nodeText, 'libp2p_noise_xxhandshake_successes_total')).toBeGreaterThan(0)
    expect(nodeText).toMatch(/^libp2p_protocol_streams_total\{protocol="(inbound|outbound) \/meshsub\/1\.2\.0"\} [1-9]/m)
    expect(nodeText.match(/^# HELP process_resident_memory_bytes /gm)).toHaveLength(1)

    // a request refused on purpose is counted by its reason: a member's lease on a chunk of an
    // epoch that has not ended (the nodes never ask for one, so nothing else moves this count)
    const future = (await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)).currentEpoch + 10
    const key = await readKeyFile(join(dir, 'node1', 'node.key'))
    const path = `/contract/epochs/${future}/chunks/0/lock`
    const refusals = 'ephemera_contract_refusals_total{decision="lease",code="ERR_EPOCH_NOT_READY"}'
    const before = value(await scrape(contract), refusals)
    const refused = await fetch(`${contract}${path}`, { method: 'POST', headers: signRequest(key.publicKey, (b) => key.sign(b), 'POST', path, new Uint8Array(0)) })
    expect(refused.status).toBe(425)
    expect(await refused.json()).toMatchObject({ error: 'ERR_EPOCH_NOT_READY' })
    expect(value(await scrape(contract), refusals)).toBe(before + 1)
    expect(value(await scrape(contract), 'ephemera_contract_decisions_total{decision="lease",outcome="refused"}')).toBeGreaterThan(0)
  }, 60_000)

  it('keeps its state across kill -9 of the coordinator; the nodes are not ready while it is gone', async () => {
    const readyz = async (): Promise<{ status: number, body: { status: string, reasons?: string[] } }> => {
      const res = await fetch(`${cluster.nodes[0]!.httpUrl}/readyz`)
      return { status: res.status, body: await res.json() as { status: string, reasons?: string[] } }
    }
    expect((await fetch(`${cluster.nodes[0]!.httpUrl}/livez`)).status).toBe(200)
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 20_000, what: 'node1 ready' })
    const decided = { epoch: (await consecutive(contract, 1, 0, 30_000))[0]! }
    const before = await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)
    const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${decided.epoch}`)
    const { genesisMs } = await getJson<{ genesisMs: number }>(`${contract}/contract/health`)
    const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
    process.kill(state.coordinator.pid, 'SIGKILL')
    await waitFor(async () => (await processesMentioning(state.coordinator.configFile)).length === 0, { timeoutMs: 10_000, what: 'the coordinator to die' })
    // readiness: 503 naming the coordinator within a few seconds (one epoch), alive all along
    const notReady = await waitFor(async () => { const r = await readyz(); return r.status === 503 ? r : undefined }, { timeoutMs: 10_000, intervalMs: 200, what: 'node1 to report not ready' })
    expect(notReady.body.reasons?.join('; ')).toMatch(/not connected to the coordinator/)
    expect((await fetch(`${cluster.nodes[0]!.httpUrl}/livez`)).status).toBe(200)
    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toMatch(/started coordinator \(pid \d+\)/)
    expect(await getJson(`${contract}/contract/epochs/${decided.epoch}`)).toEqual(record)
    expect((await getJson<{ genesisMs: number }>(`${contract}/contract/health`)).genesisMs).toBe(genesisMs)
    // and the network carries on where it was
    const restartedIn = (await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)).currentEpoch
    expect(restartedIn).toBeGreaterThanOrEqual(before.currentEpoch)
    await consecutive(contract, 1, restartedIn, 30_000)
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 15_000, intervalMs: 200, what: 'node1 ready again' })
    expect((await fetch(`${contract}/readyz`)).status).toBe(200)
  }, 90_000)

  it('makes `ephemera verify` fail and say what when a stored record is tampered with', async () => {
    const epoch = (await consecutive(contract, 1, startEpoch, 30_000))[0]!
    const coordinatorDb = join(dir, 'coordinator', 'data')
    const tamper = async (edit: (record: EpochRecordJson) => void): Promise<void> => {
      // stop the coordinator to release its database, edit the record, start it again
      const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
      process.kill(state.coordinator.pid, 'SIGTERM')
      await waitFor(async () => (await processesMentioning(state.coordinator.configFile)).length === 0, { timeoutMs: 15_000, what: 'the coordinator to stop' })
      const db = await Database.open(coordinatorDb)
      try {
        const key = String(epoch).padStart(16, '0')
        const record = parseJsonBytes<EpochRecordJson>((await db.bucket(Bucket.contractRecord).get(key))!)
        edit(record)
        await db.bucket(Bucket.contractRecord).put(key, jsonBytes(record))
      } finally {
        await db.close()
      }
      const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '30'], { timeoutMs: 45_000, env: { LOG_LEVEL: 'info' } })
      expect(up.code, up.stderr).toBe(0)
    }

    const flipHex = (hex: string, at: number): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1)
    let original = ''
    await tamper((record) => {
      const sig = record.submission.certificate!.signatures[1]!
      original = sig.signature
      sig.signature = flipHex(sig.signature, 20)
    })
    const badSignature = await runCli(['verify', '--epoch', String(epoch), '--contract', contract])
    expect(badSignature.code).toBe(1)
    expect(badSignature.stdout).toMatch(/FAIL {2}certificate signatures: signature 1 \(by 12D3KooW\w+\): signature does not verify/)
    expect(badSignature.stderr).toMatch(/^error: verification failed: certificate signatures: signature 1 \(by 12D3KooW\w+\): signature does not verify\n$/)

    let changed = ''
    await tamper((record) => {
      record.submission.certificate!.signatures[1]!.signature = original // undo the first edit
      const row = record.submission.rewards.find((r) => r.performance != null)!
      row.reward = String(BigInt(row.reward) + 1000n)
      changed = `rewards[${row.mixnode}].reward is "${row.reward}"`
    })
    const badReward = await runCli(['verify', '--epoch', String(epoch), '--contract', contract])
    expect(badReward.code).toBe(1)
    expect(badReward.stderr).toContain(`error: verification failed: rewards: ${changed}, the reports give "`)

    // a chunk, a verification and the parameters are covered too: edited copies of the record,
    // saved as files and verified offline against the peers file
    const saved = await runCli(['epochs', 'show', String(epoch), '--contract', contract, '--json'])
    const pristine = JSON.parse(saved.stdout) as EpochRecordJson
    const edited = pristine.submission.rewards.find((r) => r.performance != null)!
    edited.reward = String(BigInt(edited.reward) - 1000n) // undo the edit above
    const offline = async (edit: (record: EpochRecordJson) => void): Promise<{ code: number | null, stderr: string }> => {
      const record = JSON.parse(JSON.stringify(pristine)) as EpochRecordJson
      edit(record)
      const file = join(dir, `record-${epoch}.json`)
      await writeFile(file, JSON.stringify(record))
      return await runCli(['verify', '--record', file, '--peers', join(dir, 'peers.toml')])
    }
    expect((await offline(() => {})).code).toBe(0)
    const chunk = await offline((r) => { r.chunks![1]!.rowsHash = flipHex(r.chunks![1]!.rowsHash, 3) })
    expect(chunk.code).toBe(1)
    expect(chunk.stderr).toMatch(/^error: verification failed: chunk signatures: chunk 1: rowsHash \w+ is not the hash of rows 25–49 of the table\n$/)
    const verification = await offline((r) => { r.chunks![2]!.verifications[0]!.signature = flipHex(r.chunks![2]!.verifications[0]!.signature, 9) })
    expect(verification.code).toBe(1)
    expect(verification.stderr).toMatch(/^error: verification failed: chunk signatures: chunk 2: the signature of verifier \w+ does not verify\n$/)
    const parameters = await offline((r) => { r.parameters.rewardPool = '2000000' })
    expect(parameters.code).toBe(1)
    expect(parameters.stderr).toMatch(/^error: verification failed: report signatures: report \d+: report is for other parameters \(its parametersId differs\)\n$/)

    // a node's stored official record is compared too
    const node = cluster.nodes[0]!
    const mismatch = await runCli(['verify', '--epoch', String(epoch), '--contract', contract, '--node', node.httpUrl])
    expect(mismatch.code).toBe(1)
    expect(mismatch.stdout).toMatch(/FAIL {2}rewards: /)
    expect(mismatch.stdout).toMatch(/FAIL {2}node's official record: .* stores a different record/)
  }, 90_000)
})

describe('rewards: one node reports skewed values', () => {
  let dir: string
  let cluster: ClusterJson

  beforeAll(async () => {
    dir = await makeTempDir()
    cluster = await startCluster(dir, faults({ node4: 'skewed' }))
  }, 90_000)

  afterAll(async () => {
    await stopCluster(dir)
    await removeDir(dir)
  })

  it('keeps every committed value within the range of the honest nodes\' values', async () => {
    const skewed = cluster.nodes[3]!
    let checkedEpochs = 0
    await waitFor(async () => {
      for (const epoch of await committed(cluster.coordinator.httpUrl)) {
        const record = await getJson<EpochRecordJson>(`${cluster.coordinator.httpUrl}/contract/epochs/${epoch}`)
        const reports = record.submission.reports.map((r) => decodeReport(fromBase64(r.message.data)!))
        const bySkewed = reports.find((r) => Buffer.from(r.sender).toString('hex') === record.committee.members.find((m) => m.name === skewed.name)!.publicKey)
        if (bySkewed == null) continue // the skewed node's report is not in this block: nothing to show
        const honest = reports.filter((r) => r !== bySkewed)
        expect(honest.length).toBeGreaterThanOrEqual(2)
        for (const row of record.submission.rewards) {
          if (row.performance == null) continue
          const values = honest.map((r) => r.values[row.mixnode]!).filter((v) => v !== MISSING)
          const skewedValue = bySkewed.values[row.mixnode]
          expect(row.performance, `epoch ${epoch} mixnode ${row.mixnode}: committed value within the honest range [${Math.min(...values)}, ${Math.max(...values)}] (skewed node said ${skewedValue})`).toBeGreaterThanOrEqual(Math.min(...values))
          expect(row.performance).toBeLessThanOrEqual(Math.max(...values))
        }
        // the skewed report really is skewed: 100 % wherever the honest nodes saw less
        expect(record.submission.rewards.some((row) => row.performance != null && row.performance < 10_000 && bySkewed.values[row.mixnode] === 10_000)).toBe(true)
        checkedEpochs++
      }
      return checkedEpochs >= 2
    }, { timeoutMs: 40_000, intervalMs: 1_000, what: 'two committed epochs that include the skewed report' })
  }, 60_000)
})

describe('rewards: coordinator refusals', () => {
  let dir: string
  let cluster: ClusterJson
  let record: EpochRecordJson
  let other: string
  let child: ReturnType<typeof startCli> | undefined

  beforeAll(async () => {
    dir = await makeTempDir()
    cluster = await startCluster(dir)
    const epoch = (await consecutive(cluster.coordinator.httpUrl, 1, 0, 30_000))[0]!
    record = await getJson<EpochRecordJson>(`${cluster.coordinator.httpUrl}/contract/epochs/${epoch}`)
    // a second coordinator for the same committee, where that epoch is still undecided
    const port = await freePortBlock(1)
    other = `http://127.0.0.1:${port}`
    child = startCli(['contract', 'run', '--config', join(dir, 'coordinator', 'config.toml'), '--data-dir', join(dir, 'other-coordinator'), '--http-port', String(port)], join(dir, 'other-coordinator.log'))
    await waitFor(async () => (await getJson<{ epoch: number }>(`${other}/contract/health`)).epoch > epoch, { timeoutMs: 30_000, what: `the second coordinator to pass epoch ${epoch}` })
  }, 120_000)

  afterAll(async () => {
    child?.kill('SIGTERM')
    if (child != null) await waitForExit(child, 10_000).catch(() => {})
    await stopCluster(dir)
    await removeDir(dir)
  })

  const submit = async (body: unknown, opts: { key?: NodeKey, headers?: Record<string, string>, path?: string } = {}): Promise<{ status: number, json: any, headers: Record<string, string> }> => {
    const path = opts.path ?? `/contract/epochs/${record.epoch}/submissions`
    const bytes = new TextEncoder().encode(JSON.stringify(body))
    const key = opts.key ?? await readKeyFile(join(dir, 'node1', 'node.key'))
    const headers = opts.headers ?? signRequest(key.publicKey, (b) => key.sign(b), 'POST', path, bytes)
    const res = await fetch(`${other}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: bytes })
    return { status: res.status, json: await res.json(), headers }
  }
  const clone = (): EpochRecordJson['submission'] => JSON.parse(JSON.stringify(record.submission)) as EpochRecordJson['submission']

  it('refuses a certificate below quorum', async () => {
    const sub = clone()
    sub.certificate!.signatures = sub.certificate!.signatures.slice(0, 2)
    const res = await submit(sub)
    expect(res.status).toBe(422)
    expect(res.json).toMatchObject({ error: 'ERR_SUBMISSION_INVALID' })
    expect(res.json.message).toMatch(/refused: quorum: 2 distinct members signed, quorum is 3 of 4/)
  })

  it('refuses a certificate signature by a non-member', async () => {
    const sub = clone()
    const outsider = NodeKey.generate()
    const payload = readySigningBytes(sub.header!.round, fromHex(sub.header!.creatorPublicKey)!, fromHex(sub.blockHash!)!)
    sub.certificate!.signatures[0] = { signer: outsider.peerId.toString(), publicKey: toHex(outsider.publicKey), signature: toHex(outsider.sign(payload)) }
    const res = await submit(sub)
    expect(res.status).toBe(422)
    expect(res.json.message).toMatch(/certificate signatures: signature 0 \(by 12D3KooW\w+\): signer is not a member/)
  })

  it('refuses a reward table that does not match the reports', async () => {
    const sub = clone()
    const row = sub.rewards.find((r) => r.performance != null)!
    row.performance = (row.performance ?? 0) + 1
    const res = await submit(sub)
    expect(res.status).toBe(422)
    expect(res.json.message).toContain(`rewards: rewards[${row.mixnode}].performance is ${row.performance}, the reports give ${row.performance - 1}`)
  })

  it('refuses unsigned, badly signed, non-member and replayed requests', async () => {
    const unsigned = await fetch(`${other}/contract/epochs/${record.epoch}/submissions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(record.submission) })
    expect(unsigned.status).toBe(401)
    expect(await unsigned.json()).toMatchObject({ error: 'ERR_UNAUTHORIZED', message: 'unsigned request: missing header ephemera-key' })

    const key = await readKeyFile(join(dir, 'node1', 'node.key'))
    const signedForOtherBody = signRequest(key.publicKey, (b) => key.sign(b), 'POST', `/contract/epochs/${record.epoch}/submissions`, new TextEncoder().encode('{}'))
    const forged = await submit(record.submission, { headers: signedForOtherBody })
    expect(forged.status).toBe(401)
    expect(forged.json.message).toMatch(/request signature does not verify/)

    const stranger = await submit(record.submission, { key: NodeKey.generate() })
    expect(stranger.status).toBe(403)
    expect(stranger.json).toMatchObject({ error: 'ERR_FORBIDDEN', message: expect.stringMatching(/is not in the committee/) })

    const sub = clone()
    sub.certificate!.signatures = sub.certificate!.signatures.slice(0, 1)
    const first = await submit(sub)
    expect(first.status).toBe(422)
    const replay = await submit(sub, { headers: first.headers })
    expect(replay.status).toBe(401)
    expect(replay.json.message).toBe('replayed request: this nonce was already used')
  })

  it('accepts the first valid submission and answers later ones with 409 and the winner', async () => {
    const accepted = await submit(record.submission)
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(200)
    expect(accepted.json).toMatchObject({ status: 'accepted', winner: { name: 'node1' } })
    const late = await submit(record.submission, { key: await readKeyFile(join(dir, 'node2', 'node.key')) })
    expect(late.status).toBe(409)
    expect(late.json).toMatchObject({ error: 'ERR_EPOCH_DECIDED', record: { epoch: record.epoch, winner: { name: 'node1' } } })
    const verify = await runCli(['verify', '--epoch', String(record.epoch), '--contract', other])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  })
})

describe('rewards: standalone baseline', () => {
  let dir: string
  const children: Array<ReturnType<typeof startCli>> = []

  beforeAll(async () => {
    dir = await makeTempDir()
  })

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM')
    for (const child of children) await waitForExit(child, 10_000).catch(() => {})
    await removeDir(dir)
  })

  it('`node run --standalone` submits its own averages without consensus, and verify passes', async () => {
    const base = await freePortBlock(12)
    expect((await runCli(['init', '--nodes', '4', '--out', dir, '--base-port', String(base), '--environment', 'testing'])).code).toBe(0)
    const contract = `http://127.0.0.1:${base}`
    // the baseline needs the coordinator to accept uncertified submissions (off by default)
    children.push(startCli(['contract', 'run', '--config', join(dir, 'coordinator', 'config.toml'), '--set', 'allow_standalone=true'], join(dir, 'coordinator.log')))
    children.push(startCli(['node', 'run', '--config', join(dir, 'node1', 'config.toml'), '--standalone'], join(dir, 'node1.log')))
    const epoch = (await consecutive(contract, 1, 0, 30_000))[0]!
    const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${epoch}`)
    expect(record.submission.mode).toBe('standalone')
    expect(record.submission.certificate).toBeNull()
    expect(record.submission.reports).toHaveLength(1)
    expect(record.winner.name).toBe('node1')
    const verify = await runCli(['verify', '--epoch', String(epoch), '--contract', contract, '--node', `http://127.0.0.1:${base + 2}`, '--allow-standalone'])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    expect(verify.stdout).toContain('ok    standalone report: one report, by the submitter')
    // without the flag, an uncertified record does not pass
    const strict = await runCli(['verify', '--epoch', String(epoch), '--contract', contract])
    expect(strict.code).toBe(1)
    expect(strict.stderr).toMatch(/^error: verification failed: certified by consensus: no: a standalone submission by node1/)
  }, 60_000)
})

describe('rewards: one node equivocates, another stays silent', () => {
  let dir: string
  let cluster: ClusterJson

  beforeAll(async () => {
    dir = await makeTempDir()
    // two faulty members of four is more than f = 1: once node4 is banned on the others' evidence
    // (a living committee), node1 and node2 report alone, so the threshold is 2 here
    cluster = await startCluster(dir, async (d) => {
      await faults({ node3: 'silent' })(d)
      const file = join(d, 'coordinator', 'config.toml')
      await writeFile(file, (await readFile(file, 'utf8')).replace('[rewards]\n', '[rewards]\nrewards_threshold = 2\n'))
    })
    // node4 turns equivocator once the mesh has formed (banned before, it would never join the
    // mesh `cluster up` waits for)
    const node4 = cluster.nodes[3]!
    process.kill(node4.pid, 'SIGTERM')
    await waitFor(async () => (await processesMentioning(node4.configFile)).length === 0, { timeoutMs: 15_000, what: 'node4 to stop' })
    await faults({ node4: 'equivocate' })(dir)
    startCli(['node', 'run', '--config', node4.configFile], join(dir, 'logs', 'node4-equivocating.log'), { LOG_LEVEL: 'info' })
  }, 90_000)

  afterAll(async () => {
    await stopCluster(dir)
    killTracked()
    await removeDir(dir)
  })

  it('keeps both reports as evidence; epochs still commit, with at most one report per member and none from the silent one', async () => {
    const evidence = await waitFor(async () => {
      for (const node of cluster.nodes.slice(0, 3)) {
        const { evidence } = await getJson<{ evidence: Array<{ epoch: number, sender: string, message: { signature: string } }> }>(`${node.httpUrl}/ephemera/rewards/evidence`)
        const byNode4 = evidence.filter((e) => e.sender === 'node4')
        if (byNode4.length >= 2) return byNode4
      }
      return undefined
    }, { timeoutMs: 30_000, what: 'equivocation evidence against node4' })
    const epochs = new Map<number, string[]>()
    for (const e of evidence) epochs.set(e.epoch, [...(epochs.get(e.epoch) ?? []), e.message.signature])
    expect([...epochs.values()].some((sigs) => new Set(sigs).size >= 2), 'two different signed reports for one epoch').toBe(true)
    const epoch = (await consecutive(cluster.coordinator.httpUrl, 2, 0, 30_000))[1]!
    const record = await getJson<EpochRecordJson>(`${cluster.coordinator.httpUrl}/contract/epochs/${epoch}`)
    const senders = record.submission.reports.map((r) => r.message.publicKey)
    expect(new Set(senders).size).toBe(senders.length)
    // the silent node published nothing, so its report is in no block, yet the epochs commit
    const silentKey = record.committee.members.find((m) => m.name === 'node3')!.publicKey
    expect(senders).not.toContain(silentKey)
    expect(senders.length).toBeGreaterThanOrEqual(2)
    const verify = await runCli(['verify', '--epoch', String(epoch), '--contract', cluster.coordinator.httpUrl])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  }, 60_000)
})
