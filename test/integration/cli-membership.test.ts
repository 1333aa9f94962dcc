import { spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MembershipViewJson } from '../../src/epochs/membership-requests.js'
import { killTracked, runCli, startCli, waitForExit } from '../helpers/cli.js'
import { freePortBlock, getJson, makeTempDir, removeDir, waitFor } from '../helpers/env.js'

/**
 * The living committee from the CLI, with real processes on loopback: a 4-node network made by
 * `init` (only its coordinator runs, with open admission), a fifth validator written by
 * `init --join`, queued by `validator join` and taken out by `validator leave`; the operator's
 * lock and bans signed with the admin key `init` wrote, and refused with a node's key.
 */

const oneLineError = (stderr: string): string => {
  const lines = stderr.trimEnd().split('\n')
  expect(lines, `one line, got: ${stderr}`).toHaveLength(1)
  expect(lines[0]).toMatch(/^error: /)
  return lines[0]!
}

interface JoinJson {
  name: string
  peerId: string
  configFile: string
  keyFile: string
  peersFile: string
  address: string
  httpUrl: string
  genesisMembers: number
  mixnodes: number
  next: string[]
}

describe('the living committee from the CLI', () => {
  let dir: string
  let base: number
  let contract: string
  let coordinator: ChildProcess | undefined

  beforeAll(async () => {
    dir = await makeTempDir()
    base = await freePortBlock(12)
    contract = `http://127.0.0.1:${base}`
    const init = await runCli(['init', '--nodes', '4', '--out', join(dir, 'net'), '--base-port', String(base), '--environment', 'testing'])
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain(`operator key: ${join(dir, 'net', 'coordinator', 'admin.key')}`)
    expect(init.stdout).not.toContain('PRIVATE')
    coordinator = startCli(['contract', 'run', '--config', join(dir, 'net', 'coordinator', 'config.toml'), '--set', 'membership.admission=open'], join(dir, 'coordinator.log'))
    await waitFor(async () => (await getJson<{ status: string }>(`${contract}/contract/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the coordinator to answer' })
  }, 40_000)

  afterAll(async () => {
    coordinator?.kill('SIGTERM')
    if (coordinator != null) await waitForExit(coordinator, 10_000).catch(() => {})
    killTracked()
    await removeDir(dir)
  })

  const membership = async (): Promise<MembershipViewJson> => await getJson<MembershipViewJson>(`${contract}/contract/membership`)
  const adminKey = (): string => join(dir, 'net', 'coordinator', 'admin.key')

  const COMMANDS = [['validator'], ['validator', 'join'], ['validator', 'leave'], ['contract', 'lock'], ['contract', 'unlock'], ['contract', 'ban'], ['contract', 'unban']]
  it.each(COMMANDS.map((c) => [c.join(' '), c] as const))('%s --help explains itself', async (_name, command) => {
    const result = await runCli([...command, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: ephemera/)
    expect(result.stderr).toBe('')
  })

  it('init --join refuses the flags of a new network', async () => {
    const result = await runCli(['init', '--join', contract, '--out', join(dir, 'x'), '--nodes', '3'])
    expect(result.code).toBe(2)
    expect(oneLineError(result.stderr)).toMatch(/--join.*cannot be used with option '--nodes/)
  })

  it('a fifth validator: init --join, queue, status, operator lock and bans, leave', async () => {
    // init --join: the genesis committee as the peers file, the coordinator's URL and mixnodes, init's port layout
    const joined = await runCli(['init', '--join', contract, '--out', join(dir, 'new'), '--json'])
    expect(joined.code, joined.stderr).toBe(0)
    const node5 = JSON.parse(joined.stdout) as JoinJson
    expect(node5).toMatchObject({
      name: 'node5', configFile: join(dir, 'new', 'node5', 'config.toml'), address: `/ip4/127.0.0.1/tcp/${base + 9}`, httpUrl: `http://127.0.0.1:${base + 10}`, genesisMembers: 4, mixnodes: 100
    })
    expect(node5.next).toEqual([`ephemera node run --config ${node5.configFile}`, `ephemera validator join --config ${node5.configFile}`])
    expect((await stat(node5.keyFile)).mode & 0o777).toBe(0o600)
    // the human form names the next steps too
    const sixth = await runCli(['init', '--join', contract, '--out', join(dir, 'new'), '--name', 'spare'])
    expect(sixth.code, sixth.stderr).toBe(0)
    expect(sixth.stdout).toContain(`ephemera validator join --config ${join(dir, 'new', 'spare', 'config.toml')}`)
    expect(sixth.stdout).toContain(`p2p /ip4/127.0.0.1/tcp/${base + 9}`) // nothing registered yet: the same default pair
    const again = await runCli(['init', '--join', contract, '--out', join(dir, 'new'), '--name', 'node5'])
    expect(again.code).toBe(1)
    expect(oneLineError(again.stderr)).toMatch(/already exists; refusing to overwrite keys or configs/)
    // --force replaces the identity, but not under a process running with that config
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '--', 'node', 'run', '--config', node5.configFile], { stdio: 'ignore' })
    try {
      await waitFor(async () => (await readFile(`/proc/${holder.pid}/cmdline`, 'utf8')).includes(node5.configFile), { timeoutMs: 5_000, what: 'the stand-in node to start' })
      const busy = await runCli(['init', '--join', contract, '--out', join(dir, 'new'), '--name', 'node5', '--force'])
      expect(busy.code).toBe(1)
      expect(oneLineError(busy.stderr)).toMatch(new RegExp(`config\\.toml is in use by pid ${holder.pid} .*refusing to replace its key and wipe its data`))
    } finally {
      holder.kill('SIGKILL')
      await waitForExit(holder, 5_000)
    }
    const forced = await runCli(['init', '--join', contract, '--out', join(dir, 'new'), '--name', 'node5', '--force', '--json'])
    expect(forced.code, forced.stderr).toBe(0)
    const replaced = JSON.parse(forced.stdout) as JoinJson
    expect(replaced.peerId).not.toBe(node5.peerId)
    node5.peerId = replaced.peerId

    // validator join: queued
    const queued = await runCli(['validator', 'join', '--config', node5.configFile])
    expect(queued.code, queued.stderr).toBe(0)
    expect(queued.stdout).toBe(`node5 queued at position 1 at ${contract}\n`)

    // contract status: in the queue, or already staged for the next change
    const status = await runCli(['contract', 'status', '--contract', contract, '--json'])
    expect(status.code, status.stderr).toBe(0)
    const view = JSON.parse(status.stdout) as { rounds: unknown[], membership: MembershipViewJson }
    expect(Array.isArray(view.rounds)).toBe(true)
    const waiting = [...view.membership.queue, ...view.membership.next].map((q) => q.member)
    expect(waiting).toEqual([expect.objectContaining({ name: 'node5', peerId: node5.peerId, multiaddrs: [`${node5.address}/p2p/${node5.peerId}`] })])
    const text = await runCli(['contract', 'status', '--contract', contract])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/committee of epoch \d+: 4 members/)
    expect(text.stdout).toMatch(/(1\. node5|admit node5) \(/)

    // the operator's lock: the admin key may, a node's key may not
    const locked = await runCli(['contract', 'lock', '--contract', contract, '--admin-key', adminKey()])
    expect(locked.code, locked.stderr).toBe(0)
    expect(locked.stdout).toBe(`locked: ${contract} commits no epoch until \`ephemera contract unlock\`\n`)
    expect((await membership()).locked).toBe(true)
    const refused = await runCli(['contract', 'lock', '--contract', contract, '--admin-key', join(dir, 'net', 'node1', 'node.key')])
    expect(refused.code).toBe(1)
    expect(oneLineError(refused.stderr)).toMatch(/refused \/contract\/admin\/lock: .*node1\/node\.key \(public key [0-9a-f]{64}\) is not its operator key/)
    const unlocked = await runCli(['contract', 'unlock', '--contract', contract, '--admin-key', adminKey(), '--json'])
    expect(unlocked.code, unlocked.stderr).toBe(0)
    expect(JSON.parse(unlocked.stdout)).toEqual({ locked: false })
    expect((await membership()).locked).toBe(false)

    // ban and unban a member, by its PeerId
    const node4 = (await membership()).committee.members.find((m) => m.name === 'node4')!
    const banned = await runCli(['contract', 'ban', '--contract', contract, '--admin-key', adminKey(), '--public-key', node4.peerId, '--reason', 'testing bans'])
    expect(banned.code, banned.stderr).toBe(0)
    expect(banned.stdout).toMatch(/^banned node4 \([0-9a-f]{16}…\): testing bans;/)
    const withBan = await membership()
    expect(withBan.bans).toEqual([expect.objectContaining({ by: 'admin', reason: 'testing bans', member: expect.objectContaining({ publicKey: node4.publicKey }) })])
    expect(withBan.removals).toEqual([expect.objectContaining({ kind: 'banned', member: expect.objectContaining({ name: 'node4' }) })])
    const bannedStatus = await runCli(['contract', 'status', '--contract', contract])
    expect(bannedStatus.stdout).toMatch(/bans: 1\n {2}node4 \([0-9a-f]{8}…\): by admin at epoch \d+: testing bans/)
    const twice = await runCli(['contract', 'ban', '--contract', contract, '--admin-key', adminKey(), '--public-key', node4.publicKey, '--reason', 'again'])
    expect(twice.code).toBe(1)
    expect(oneLineError(twice.stderr)).toMatch(/HTTP 409: node4 is already banned/)
    const unbanned = await runCli(['contract', 'unban', '--contract', contract, '--admin-key', adminKey(), '--public-key', node4.publicKey])
    expect(unbanned.code, unbanned.stderr).toBe(0)
    expect(unbanned.stdout).toMatch(/^unbanned node4 .*it may queue again\n$/)
    const afterUnban = await membership()
    expect(afterUnban.bans).toEqual([])
    expect(afterUnban.removals).toEqual([])

    // validator leave: out of the queue (or the staged admissions) at once
    const left = await runCli(['validator', 'leave', '--config', node5.configFile])
    expect(left.code, left.stderr).toBe(0)
    expect(left.stdout).toBe(`node5 left the queue at ${contract}\n`)
    const after = await membership()
    expect([...after.queue, ...after.next]).toEqual([])
    // a member cannot leave a committee at its minimum size
    const member = await runCli(['validator', 'leave', '--config', join(dir, 'net', 'node1', 'config.toml')])
    expect(member.code).toBe(1)
    expect(oneLineError(member.stderr)).toMatch(/HTTP 409: node1 cannot leave now: the committee would have fewer than 4 members/)
  }, 60_000)
})
