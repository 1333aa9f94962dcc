import { spawn } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeCommand, listProcesses, processesWithConfig, supervisorsOf, type ProcessInfo } from '../../../src/cluster/processes.js'
import { tempDir } from '../tmp.js'

/** Finding a cluster's processes by their command lines, as /proc shows them. */

const proc = (pid: number, args: string[], cwd?: string): ProcessInfo => ({ pid, args, cwd })

describe('processesWithConfig', () => {
  it('matches --config F and --config=F, absolute or relative to the process\'s cwd', async () => {
    const dir = await tempDir()
    const file = join(dir, 'node1', 'config.toml')
    const found = processesWithConfig([file], [
      proc(10, ['node', 'ephemera.js', 'node', 'run', '--config', file]),
      proc(11, ['node', 'ephemera.js', 'node', 'run', '--config', 'node1/config.toml'], dir),
      proc(12, ['node', 'ephemera.js', 'contract', 'run', `--config=${join('..', 'node1', 'config.toml')}`], join(dir, 'x')),
      proc(13, ['node', 'ephemera.js', 'node', 'run', '--config', 'node1/config.toml'], '/elsewhere'),
      proc(14, ['vim', file]),
      proc(15, ['node', 'ephemera.js', 'node', 'run', '--config', join(dir, 'node2', 'config.toml')])
    ])
    expect(found.map((f) => f.process.pid)).toEqual([10, 11, 12])
    expect(found.every((f) => f.file === file)).toBe(true)
  })

  it('matches a path named through a symlink', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'real', 'node1'), { recursive: true })
    await writeFile(join(dir, 'real', 'node1', 'config.toml'), '')
    await symlink(join(dir, 'real'), join(dir, 'link'))
    const found = processesWithConfig([join(dir, 'real', 'node1', 'config.toml')], [proc(20, ['node', 'x', '--config', join(dir, 'link', 'node1', 'config.toml')])])
    expect(found.map((f) => f.process.pid)).toEqual([20])
  })

  it('finds a live process in /proc', async () => {
    const dir = await tempDir()
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', '--config', 'n/config.toml'], { cwd: dir, stdio: 'ignore' })
    try {
      const found = processesWithConfig([join(dir, 'n', 'config.toml')])
      expect(found.map((f) => f.process.pid)).toEqual([child.pid])
      // neither this process nor its ancestors (a wrapper such as npx) count
      expect(listProcesses().some((p) => p.pid === process.pid || p.pid === process.ppid)).toBe(false)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('supervisorsOf', () => {
  it('finds `cluster up` for DIR by --dir, or by the default directory', async () => {
    const dir = await tempDir()
    const cluster = join(dir, '.ephemera', 'cluster')
    const found = supervisorsOf(cluster, '.ephemera/cluster', [
      proc(1, ['node', 'ephemera.js', 'cluster', 'up', '--dir', cluster]),
      proc(2, ['node', 'ephemera.js', 'cluster', 'up', '--nodes', '4'], dir),
      proc(3, ['node', 'ephemera.js', 'cluster', 'up', '--dir=.ephemera/cluster', '--detach'], dir),
      proc(4, ['node', 'ephemera.js', 'cluster', 'up', '--dir', join(dir, 'other')]),
      proc(5, ['node', 'ephemera.js', 'cluster', 'status', '--dir', cluster]),
      proc(6, ['node', 'ephemera.js', 'cluster', 'up'], '/somewhere/else')
    ])
    expect(found.map((p) => p.pid)).toEqual([1, 2, 3])
  })
})

describe('describeCommand', () => {
  it('shows the CLI as `ephemera ARGS` and shortens long lines', () => {
    expect(describeCommand(proc(1, ['/usr/bin/node', '/x/dist/bin/ephemera.js', 'node', 'run', '--config', 'c.toml']))).toBe('ephemera node run --config c.toml')
    expect(describeCommand(proc(1, ['sleep', 'x'.repeat(200)]), 20)).toBe(`sleep ${'x'.repeat(11)}...`)
  })
})
