import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { killTracked, startCli, waitForExit } from '../helpers/cli.js'
import { freePortBlock, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'

/** `cluster up` in the foreground: Ctrl-C stops every node; a dead supervisor takes its nodes along. */
describe('foreground cluster supervisor', () => {
  let dir: string

  beforeEach(async () => {
    dir = await makeTempDir()
  })

  afterEach(async () => {
    killTracked()
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    await removeDir(dir)
  })

  const startSupervisor = async (): Promise<{ child: ReturnType<typeof startCli>, output: () => Promise<string>, nodePids: number[] }> => {
    const basePort = await freePortBlock(10)
    const logFile = join(dir, 'supervisor.out')
    const child = startCli(['cluster', 'up', '--nodes', '3', '--dir', dir, '--base-port', String(basePort), '--environment', 'testing', '--timeout', '30'], logFile)
    const output = async (): Promise<string> => await readFile(logFile, 'utf8').catch(() => '')
    await waitFor(async () => (await output()).includes('live status'), { timeoutMs: 40_000, what: 'the mesh to form' })
    const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as { supervisorPid: number, mode: string, nodes: Array<{ pid: number }> }
    expect(state.mode).toBe('foreground')
    expect(state.supervisorPid).toBe(child.pid)
    return { child, output, nodePids: state.nodes.map((n) => n.pid) }
  }

  it('prints one line per committed epoch, and stops every process on SIGINT with exit 0', async () => {
    const { child, output, nodePids } = await startSupervisor()
    expect(nodePids).toHaveLength(3)
    expect(await output()).toMatch(/mesh formed in [\d.]+ s: 3 nodes/)
    const line = await waitFor(async () => (await output()).match(/^epoch (\d+): reports \d\/3, block [0-9a-f]{12} by node\d \(\d signatures, \d reports\), chunks 4\/4 verified, winner node\d, committed \d+ ms after the epoch ended$/m) ?? undefined, { timeoutMs: 20_000, what: 'an epoch line' })
    expect(Number(line[1])).toBeGreaterThan(0)
    child.kill('SIGINT')
    const exit = await waitForExit(child, 20_000)
    expect(exit.code).toBe(0)
    // 3 nodes and the coordinator; nodes go first
    expect(await output()).toContain('stopped 4 processes')
    expect(await processesMentioning(dir)).toEqual([])
    const state = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as { status: string }
    expect(state.status).toBe('stopped')
  }, 60_000)

  it('leaves no orphans when the supervisor itself is killed with SIGKILL', async () => {
    const { child } = await startSupervisor()
    child.kill('SIGKILL')
    await waitForExit(child, 5_000)
    await waitFor(async () => (await processesMentioning(dir)).length === 0, { timeoutMs: 15_000, what: 'the orphaned nodes to exit' })
  }, 60_000)
})
