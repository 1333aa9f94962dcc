import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fromBase64, toHex } from '../../src/codec/bytes.js'
import type { EpochRecordJson } from '../../src/epochs/record.js'
import { decodeReport } from '../../src/epochs/report.js'
import { runCli } from '../helpers/cli.js'
import { getJson, makeTempDir, removeDir, waitFor } from '../helpers/env.js'
import { createLab, netnsOf, netnsSupport, type NetnsLab } from '../helpers/netns.js'

/**
 * Running for real, on "separate machines": the coordinator and 4 nodes each run as a real
 * process in a network namespace of its own (its own interface and address on a bridge, no
 * shared loopback), with the configs `ephemera init --coordinator-host … --node-hosts …` writes.
 * They connect over those addresses, commit epochs with consensus, and `ephemera verify` (from
 * the root namespace, over the bridge) passes on a record. A fifth host made with
 * `init --join --host`, listening on 0.0.0.0 with its address in p2p.announce, joins the committee
 * by itself and reports. Skipped, saying why, where network namespaces cannot be created (not
 * root, no iproute2, a sandbox that forbids them).
 */

const support = await netnsSupport()
if (!support.ok) console.warn(`netns.test.ts skipped: ${support.reason}`)

const NODES = ['node1', 'node2', 'node3', 'node4']

interface EpochList { currentEpoch: number, epochs: Array<{ epoch: number, status: string }> }
interface Health { connectedMembers: number, peerId: string, pid: number }
interface Connections { connections: Array<{ peerId: string, remoteAddr: string }> }

/** The coordinator's committed records of epochs ≥ `from`, oldest first (a committed record never changes: each is read once). */
const seen = new Map<number, EpochRecordJson>()
async function committed (contract: string, from: number): Promise<EpochRecordJson[]> {
  const list = await getJson<EpochList>(`${contract}/contract/epochs?limit=30`)
  const epochs = list.epochs.filter((e) => e.status === 'committed' && e.epoch >= from).map((e) => e.epoch).sort((a, b) => a - b)
  for (const e of epochs) if (!seen.has(e)) seen.set(e, await getJson<EpochRecordJson>(`${contract}/contract/epochs/${e}`))
  return epochs.map((e) => seen.get(e) as EpochRecordJson)
}

/** The public keys (hex) of the members whose reports a record holds. */
const reporters = (r: EpochRecordJson): Set<string> => new Set(r.submission.reports.map((x) => toHex(decodeReport(fromBase64(x.message.data) as Uint8Array).sender)))

describe.skipIf(!support.ok)(`nodes on separate hosts: one network namespace each${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let lab: NetnsLab | undefined
  let dir: string
  let contract: string
  const nodeUrl = (i: number): string => `http://${lab!.hosts[i + 1]!.address}:7002`

  beforeAll(async () => {
    dir = await makeTempDir('ephemera-netns-')
    lab = await createLab(['coordinator', ...NODES, 'node5'])
    const [coordinator, ...nodes] = lab.hosts.slice(0, NODES.length + 1)
    // every node listens on its own host's address, all with the same ports (7001 p2p, 7002 HTTP)
    const init = await runCli(['init', '--out', dir, '--environment', 'testing', '--coordinator-host', coordinator!.address, '--node-hosts', nodes.map((h) => h.address).join(',')])
    expect(init.code, init.stderr).toBe(0)
    // anyone may queue (node5 joins without an allowlist entry)
    const coordinatorConfig = join(dir, 'coordinator', 'config.toml')
    await writeFile(coordinatorConfig, (await readFile(coordinatorConfig, 'utf8')).replace('[membership]\n', '[membership]\nadmission = "open"\n'))
    contract = `http://${coordinator!.address}:7000`
    lab.startCli(coordinator!, ['contract', 'run', '--config', join(dir, 'coordinator', 'config.toml')], join(dir, 'coordinator.log'))
    await waitFor(async () => (await getJson<{ status: string }>(`${contract}/readyz`)).status === 'ready', { timeoutMs: 30_000, what: 'the coordinator to be ready' })
    for (const [i, host] of nodes.entries()) lab.startCli(host, ['node', 'run', '--config', join(dir, NODES[i]!, 'config.toml')], join(dir, `${NODES[i]!}.log`))
  }, 90_000)

  afterAll(async () => {
    await lab?.cleanup()
    await removeDir(dir)
  }, 60_000)

  it('each process runs in its own namespace, and the nodes connect to each other over the hosts\' addresses', async () => {
    const healths = await waitFor(async () => {
      const all = await Promise.all(NODES.map(async (_, i) => await getJson<Health>(`${nodeUrl(i)}/ephemera/node/health`)))
      return all.every((h) => h.connectedMembers === NODES.length - 1) ? all : undefined
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'every node to connect to the other three' })
    const own = await netnsOf(process.pid)
    const spaces = await Promise.all(healths.map(async (h) => await netnsOf(h.pid)))
    expect(new Set(spaces).size).toBe(NODES.length)
    expect(spaces).not.toContain(own)
    // node1's connections come from, or go to, the other hosts' addresses: never loopback
    const { connections } = await getJson<Connections>(`${nodeUrl(0)}/ephemera/node/connections`)
    const others = lab!.hosts.slice(2, NODES.length + 1).map((h) => h.address)
    for (const [i, health] of healths.slice(1).entries()) {
      const conn = connections.filter((c) => c.peerId === health.peerId)
      expect(conn.length, `node1 is connected to ${NODES[i + 1]!}`).toBeGreaterThan(0)
      for (const c of conn) expect(c.remoteAddr).toMatch(new RegExp(`^/ip4/${others[i]!.replaceAll('.', '\\.')}/tcp/\\d+`))
    }
  }, 90_000)

  it('commits 3 epochs with consensus across the hosts, and `ephemera verify` passes on one from the root namespace', async () => {
    const first = (await getJson<EpochList>(`${contract}/contract/epochs?limit=1`)).currentEpoch
    const records = await waitFor(async () => {
      const done = await committed(contract, first)
      return done.length >= 3 ? done.slice(0, 3) : undefined
    }, { timeoutMs: 60_000, intervalMs: 500, what: '3 committed epochs' })
    const keys = new Map((records[0]!.committee.members).map((m) => [m.publicKey, m.name]))
    for (const record of records) {
      expect(record.submission.mode).toBe('consensus')
      // q = 3 of 4 READY signatures, and reports from at least 3 distinct members
      const signers = new Set(record.submission.certificate!.signatures.map((s) => s.signer))
      expect(signers.size, `epoch ${record.epoch}: certificate signers`).toBeGreaterThanOrEqual(3)
      const senders = reporters(record)
      expect(senders.size, `epoch ${record.epoch}: reporters`).toBeGreaterThanOrEqual(3)
      for (const key of senders) expect(keys.has(key)).toBe(true)
    }
    const epoch = records.at(-1)!.epoch
    const verify = await runCli(['verify', '--epoch', String(epoch), '--contract', contract, '--node', nodeUrl(epoch % NODES.length)], { timeoutMs: 30_000 })
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(new RegExp(`verified: epoch ${epoch}'s rewards are certified by [34] of 4 members`))
    expect(verify.stdout).not.toContain('FAIL')
  }, 90_000)

  it('a fifth host joins later: `init --join --host`, listening on 0.0.0.0 with its address in p2p.announce; admitted by itself, it reports', async () => {
    const host = lab!.hosts[NODES.length + 1]!
    const made = await runCli(['init', '--join', contract, '--out', dir, '--name', 'node5', '--host', host.address, '--base-port', '7001', '--json'])
    expect(made.code, made.stderr).toBe(0)
    const { configFile, peerId } = JSON.parse(made.stdout) as { configFile: string, peerId: string }
    const announced = `/ip4/${host.address}/tcp/7001`
    const config = await readFile(configFile, 'utf8')
    expect(config).toContain(`listen = "${announced}"`)
    await writeFile(configFile, config.replace(`listen = "${announced}"`, `listen = "/ip4/0.0.0.0/tcp/7001"\nannounce = ["${announced}"]`))
    lab!.startCli(host, ['node', 'run', '--config', configFile], join(dir, 'node5.log'))
    // rewards.auto_join: it queues by itself, with the announced address
    const admitted = await waitFor(async () => (await committed(contract, 0)).find((r) => r.committeeChange?.decisions.some((d) => d.kind === 'admitted' && d.member.name === 'node5')),
      { timeoutMs: 60_000, intervalMs: 500, what: 'node5 admitted by a committee change' })
    const member = admitted.committeeChange!.committee.members.find((m) => m.name === 'node5')
    expect(member?.multiaddrs).toEqual([`${announced}/p2p/${peerId}`])
    const effective = admitted.committeeChange!.effectiveEpoch
    const key = member!.publicKey
    const withReport = await waitFor(async () => (await committed(contract, effective)).find((r) => reporters(r).has(key)),
      { timeoutMs: 60_000, intervalMs: 500, what: `a record from epoch ${effective} with node5's report` })
    expect(withReport.committee.members.map((m) => m.name)).toContain('node5')
  }, 150_000)
})
