import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toHex } from '../../src/codec/bytes.js'
import { publicKeyFromPeerId } from '../../src/crypto/keys.js'
import type { EpochRecordJson } from '../../src/epochs/record.js'
import { decodeReport } from '../../src/epochs/report.js'
import { fromBase64 } from '../../src/codec/bytes.js'
import { killTracked, runCli, startCli } from '../helpers/cli.js'
import { freePortBlock, getJson, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'

/**
 * A living committee with real processes (2-second epochs): a 4-node network whose node4
 * equivocates is banned on the evidence the others submit, and its connections are refused; a
 * fifth node made with `init --join` joins through the queue, enters a later committee, and its
 * reports and READY signatures appear in later records; a node stopped for several epochs is
 * dropped and rejoins when it is back. Epochs keep committing throughout and `ephemera verify`
 * passes on every record, the committee chain included.
 */

interface ClusterJson {
  coordinator: { pid: number, httpUrl: string, configFile: string }
  nodes: Array<{ name: string, pid: number, httpUrl: string, peerId: string, configFile: string }>
}

interface EpochList { currentEpoch: number, epochs: Array<{ epoch: number, status: string }> }

const keyOf = (peerId: string): string => toHex(publicKeyFromPeerId(peerId))

async function records (contract: string): Promise<EpochRecordJson[]> {
  const list = await getJson<EpochList>(`${contract}/contract/epochs?limit=200`)
  const done = list.epochs.filter((e) => e.status === 'committed').map((e) => e.epoch).sort((a, b) => a - b)
  return await Promise.all(done.map(async (e) => await getJson<EpochRecordJson>(`${contract}/contract/epochs/${e}`)))
}

/** The first record whose committee change has a decision of `kind` about `name`. */
async function decision (contract: string, kind: string, name: string, timeoutMs: number): Promise<EpochRecordJson> {
  return await waitFor(async () => (await records(contract)).find((r) => r.committeeChange?.decisions.some((d) => d.kind === kind && d.member.name === name)), { timeoutMs, intervalMs: 500, what: `a committee change: ${kind} ${name}` })
}

/** Waits for a committed record of an epoch ≥ `from` that satisfies `check`. */
async function recordFrom (contract: string, from: number, check: (r: EpochRecordJson) => boolean, timeoutMs: number, what: string): Promise<EpochRecordJson> {
  return await waitFor(async () => (await records(contract)).find((r) => r.epoch >= from && check(r)), { timeoutMs, intervalMs: 500, what })
}

const reporters = (r: EpochRecordJson): string[] => r.submission.reports.map((x) => toHex(decodeReport(fromBase64(x.message.data) as Uint8Array).sender))

describe('a living committee: coordinator + 4 nodes, then a fifth', () => {
  let dir: string
  let cluster: ClusterJson
  let contract: string

  beforeAll(async () => {
    dir = await makeTempDir()
    const base = await freePortBlock(16)
    const init = await runCli(['init', '--nodes', '4', '--out', dir, '--base-port', String(base), '--environment', 'testing'])
    expect(init.code, init.stderr).toBe(0)
    // open admission; a member that misses 3 epochs in a row is dropped (down to 3 members)
    const coordinatorConfig = join(dir, 'coordinator', 'config.toml')
    let text = await readFile(coordinatorConfig, 'utf8')
    const settings = 'admission = "open"\ndrop_after_missed = 3\nmin_committee = 3\n'
    text = text.includes('[membership]\n') ? text.replace('[membership]\n', `[membership]\n${settings}`) : `${text}\n[membership]\n${settings}`
    await writeFile(coordinatorConfig, text)
    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '40'], { timeoutMs: 60_000, env: { LOG_LEVEL: 'info' } })
    expect(up.code, up.stderr).toBe(0)
    cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
    contract = cluster.coordinator.httpUrl
    // then node4 turns to signing two different reports every epoch (restarted in that mode once
    // the mesh has formed: banned before, it would never join the mesh `cluster up` waits for)
    const node4 = cluster.nodes[3]!
    process.kill(node4.pid, 'SIGTERM')
    await waitFor(async () => (await processesMentioning(node4.configFile)).length === 0, { timeoutMs: 15_000, what: 'node4 to stop' })
    await writeFile(node4.configFile, (await readFile(node4.configFile, 'utf8')).replace('[rewards]\n', '[rewards]\nfault = "equivocate"\n'))
    startCli(['node', 'run', '--config', node4.configFile], join(dir, 'logs', 'node4-equivocating.log'), { LOG_LEVEL: 'info' })
  }, 90_000)

  afterAll(async () => {
    const down = await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    expect(down.code, down.stderr).toBe(0)
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    killTracked()
    await removeDir(dir)
  })

  it('bans the equivocating node on the evidence the others submit: out of every later committee, its connections refused', async () => {
    // on a timeout, say what the equivocating node did (its log is removed with the cluster)
    const banned = await decision(contract, 'banned', 'node4', 60_000).catch(async (err: unknown) => {
      const log = await readFile(join(dir, 'logs', 'node4-equivocating.log'), 'utf8').catch((e: unknown) => `(no log: ${String(e)})`)
      throw new Error(`${(err as Error).message}; the equivocating node4's log ends:\n${log.split('\n').slice(-40).join('\n')}`)
    })
    const d = banned.committeeChange?.decisions.find((x) => x.kind === 'banned')
    expect(d?.evidenceHash).toMatch(/^[0-9a-f]{64}$/)
    const evidence = await getJson<{ offender: string }>(`${contract}/contract/evidence/${d?.evidenceHash as string}`)
    expect(evidence.offender).toBe(keyOf(cluster.nodes[3]!.peerId))
    const effective = banned.committeeChange?.effectiveEpoch as number
    const after = await recordFrom(contract, effective, () => true, 30_000, `a record from epoch ${effective}`)
    expect(after.committee.members.map((m) => m.name)).not.toContain('node4')
    // node1 no longer lets node4 in
    await waitFor(async () => {
      const { connections } = await getJson<{ connections: Array<{ peerId: string }> }>(`${cluster.nodes[0]!.httpUrl}/ephemera/node/connections`)
      return !connections.some((c) => c.peerId === cluster.nodes[3]!.peerId)
    }, { timeoutMs: 20_000, what: 'node1 to drop its connection to the banned node4' })
    const group = await getJson<{ refusedNonMembers: { refused: number } }>(`${cluster.nodes[0]!.httpUrl}/ephemera/broadcast/group/info`)
    expect(group.refusedNonMembers.refused).toBeGreaterThan(0)
  }, 120_000)

  it('a fifth node made with `init --join` joins through the queue: its reports appear in later records, it votes and holds the records', async () => {
    const ports = await freePortBlock(2)
    const join5 = await runCli(['init', '--join', contract, '--out', join(dir, 'joined'), '--name', 'node5', '--base-port', String(ports), '--json'])
    expect(join5.code, join5.stderr).toBe(0)
    const { configFile, peerId } = JSON.parse(join5.stdout) as { configFile: string, peerId: string }
    startCli(['node', 'run', '--config', configFile], join(dir, 'logs', 'node5.log'), { LOG_LEVEL: 'info' })
    const admitted = await decision(contract, 'admitted', 'node5', 60_000)
    const effective = admitted.committeeChange?.effectiveEpoch as number
    const key = keyOf(peerId)
    const summary = async (): Promise<string> => (await records(contract)).filter((r) => r.epoch >= effective - 1).map((r) => `${r.epoch}: committee ${r.committee.members.map((m) => m.name).join(',')}; reports ${reporters(r).map((k) => r.committee.members.find((m) => m.publicKey === k)?.name ?? k.slice(0, 8)).join(',')}; signers ${(r.submission.certificate?.signatures ?? []).map((x) => r.committee.members.find((m) => m.peerId === x.signer)?.name ?? x.signer).join(',')}`).join('\n')
    try {
      const withReport = await recordFrom(contract, effective, (r) => r.committee.members.some((m) => m.publicKey === key) && reporters(r).includes(key), 40_000, 'a record with node5\'s report')
      expect(withReport.committee.members.map((m) => m.name)).toContain('node5')
      // it votes: a certificate carries the first q READYs its maker received (q = 3 of 4 here),
      // so a member that is always the slowest (the newest process on a loaded machine) may sign
      // none of them; what the protocol promises is that it sends READYs and ends with the records
      const node5 = `http://127.0.0.1:${ports + 1}`
      const readies = async (): Promise<number> => Number(/ephemera_rbc_messages_sent_total\{type="ready"\} (\d+)/.exec(await (await fetch(`${node5}/metrics`)).text())?.[1] ?? 0)
      await waitFor(async () => await readies() > 0, { timeoutMs: 40_000, what: 'node5 to send READY votes' })
      await waitFor(async () => (await getJson<{ progress?: { state?: string } }>(`${node5}/ephemera/rewards/epochs/${effective + 2}`).catch(() => undefined))?.progress?.state === 'committed', { timeoutMs: 40_000, what: `node5 to hold the committed record of epoch ${effective + 2}` })
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await summary()}`)
    }
  }, 150_000)

  it('a node stopped for several epochs is dropped, rejoins when it is back, and epochs keep committing', async () => {
    const node3 = cluster.nodes[2]!
    process.kill(node3.pid, 'SIGKILL')
    const dropped = await decision(contract, 'dropped', 'node3', 60_000)
    expect(dropped.committeeChange?.decisions.find((d) => d.member.name === 'node3')?.reason).toMatch(/missed 3 consecutive epochs/)
    startCli(['node', 'run', '--config', node3.configFile], join(dir, 'logs', 'node3-again.log'), { LOG_LEVEL: 'info' })
    const back = await recordFrom(contract, dropped.epoch + 1, (r) => r.committeeChange?.decisions.some((d) => d.kind === 'admitted' && d.member.name === 'node3') ?? false, 60_000, 'node3 admitted again')
    const effective = back.committeeChange?.effectiveEpoch as number
    await recordFrom(contract, effective, (r) => r.committee.members.some((m) => m.name === 'node3'), 40_000, 'a record whose committee has node3 again')
  }, 150_000)

  it('`cluster add` adds a validator to the running cluster: started, recorded in cluster.json, admitted; `cluster down` stops it', async () => {
    // explicit free ports: the default (after the highest the coordinator knows) may be another test's
    const add = await runCli(['cluster', 'add', '--dir', dir, '--base-port', String(await freePortBlock(2))], { timeoutMs: 60_000 })
    expect(add.code, add.stderr).toBe(0)
    const name = /started (node\d+)/.exec(add.stdout)?.[1] as string
    expect(name).toBe('node6')
    const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
    expect(state.nodes.map((n) => n.name)).toContain('node6')
    await decision(contract, 'admitted', 'node6', 60_000)
    const again = await runCli(['cluster', 'add', '--dir', dir, '--name', 'node6'], { timeoutMs: 30_000 })
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already running/)
  }, 120_000)

  it('epochs committed throughout, and `ephemera verify` passes on every record, the committee chain included', async () => {
    const all = await records(contract)
    const epochs = all.map((r) => r.epoch)
    // no long gap: at most 3 epochs in a row without a record after the first
    for (let i = 1; i < epochs.length; i++) expect(epochs[i]! - epochs[i - 1]!, `gap after epoch ${epochs[i - 1]!}`).toBeLessThanOrEqual(4)
    // every record, each against its epoch's committee re-derived from genesis, and the chain
    const verify = await runCli(['verify', '--all', '--contract', contract], { timeoutMs: 60_000 })
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/committee chain: [1-9]\d* changes? over \d+ records, every record's committee follows from genesis/)
    expect(verify.stdout.split('\n').filter((l) => / ok \(/.test(l)).length).toBeGreaterThanOrEqual(epochs.length)
    // and the single-record form passes on one from each committee
    for (const epoch of [epochs[0]!, epochs.at(-1)!]) {
      const one = await runCli(['verify', '--contract', contract, '--epoch', String(epoch), '--no-chain'], { timeoutMs: 30_000 })
      expect(one.code, `epoch ${epoch}: ${one.stdout}${one.stderr}`).toBe(0)
    }
  }, 120_000)
})
