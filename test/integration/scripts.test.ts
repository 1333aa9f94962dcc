import { execFile } from 'node:child_process'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { freePortBlock, makeTempDir, processesMentioning, removeDir } from '../helpers/env.js'

const run = promisify(execFile)
const script = (name: string): string => fileURLToPath(new URL(`../../scripts/${name}`, import.meta.url))

/** The wrappers in scripts/ drive the same CLI: start, stop, clear. */
describe('scripts/', () => {
  let dir: string

  beforeAll(async () => {
    dir = await makeTempDir()
    const base = await freePortBlock(6)
    // pick the ports: init first, the start script then finds the directory initialised
    expect((await runCli(['init', '--nodes', '2', '--out', dir, '--base-port', String(base)])).code).toBe(0)
  })

  afterAll(async () => {
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    await removeDir(dir)
  })

  it('start-cluster.sh, stop-cluster.sh and clear-data.sh run a 2-node cluster and clean up', async () => {
    const env = { ...process.env, LOG_LEVEL: 'info' }
    const started = await run(script('start-cluster.sh'), ['2', dir], { env, timeout: 60_000 })
    expect(started.stdout).toMatch(/mesh formed in [\d.]+ s: 2 nodes/)
    expect((await processesMentioning(dir)).length).toBe(3)
    await expect(run(script('clear-data.sh'), [dir], { env })).rejects.toThrow(/is running/)

    const stopped = await run(script('stop-cluster.sh'), [dir], { env, timeout: 30_000 })
    expect(stopped.stdout).toMatch(/stopped 3 processes/)
    expect(await processesMentioning(dir)).toEqual([])
    expect(await readFile(join(dir, 'logs', 'node1.log'), 'utf8')).toContain('node started')

    const cleared = await run(script('clear-data.sh'), [dir], { env })
    expect(cleared.stdout).toMatch(/cleared data and logs of 2 nodes/)
    await expect(access(join(dir, 'node1', 'data'))).rejects.toThrow()
    await expect(access(join(dir, 'logs'))).rejects.toThrow()
    await access(join(dir, 'node1', 'node.key'))
  }, 90_000)
})
