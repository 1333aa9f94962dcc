import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killTracked, runCli, startCli, waitForExit } from '../helpers/cli.js'
import { freePortBlock, getJson, makeTempDir, removeDir, waitFor } from '../helpers/env.js'

/** One `ephemera node run` process: graceful stop on signals, clear start-up errors. */
describe('ephemera node run', () => {
  let dir: string
  let config: string
  let httpUrl: string

  beforeAll(async () => {
    dir = await makeTempDir()
    const base = await freePortBlock(6)
    const init = await runCli(['init', '--nodes', '2', '--out', dir, '--base-port', String(base), '--json'])
    expect(init.code).toBe(0)
    const result = JSON.parse(init.stdout) as { nodes: Array<{ configFile: string, httpUrl: string }> }
    config = result.nodes[0]!.configFile
    httpUrl = result.nodes[0]!.httpUrl
  })

  afterAll(async () => {
    killTracked()
    await removeDir(dir)
  })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops everything in reverse order on ${signal} within a few seconds`, async () => {
      const log = join(dir, `node-${signal}.log`)
      const child = startCli(['node', 'run', '--config', config], log)
      await waitFor(async () => (await getJson(`${httpUrl}/ephemera/node/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the node to start' })
      const started = Date.now()
      child.kill(signal)
      const exit = await waitForExit(child, 10_000)
      expect(exit.code).toBe(0)
      expect(Date.now() - started).toBeLessThan(5_000)
      const lines = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { msg: string, part?: string, reason?: string })
      expect(lines.find((l) => l.msg === 'shutting down')?.reason).toBe(signal)
      // reverse of the start order: HTTP API, rewards application, broadcast engine, network, database last
      expect(lines.filter((l) => l.msg === 'stopped').map((l) => l.part)).toEqual(['http', 'rewards', 'broadcast', 'network', 'database'])
      expect(lines.at(-1)?.msg).toBe('node stopped')
      await expect(fetch(`${httpUrl}/ephemera/node/health`)).rejects.toThrow()
    }, 40_000)
  }

  it('refuses a second process on the same data dir with one clear line', async () => {
    const child = startCli(['node', 'run', '--config', config], join(dir, 'first.log'))
    try {
      await waitFor(async () => (await getJson(`${httpUrl}/ephemera/node/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the node to start' })
      const second = await runCli(['node', 'run', '--config', config])
      expect(second.code).toBe(1)
      expect(second.stderr.trim().split('\n')).toHaveLength(1)
      expect(second.stderr).toMatch(/^error: database .* is locked by another process/)
    } finally {
      child.kill('SIGTERM')
      await waitForExit(child, 10_000)
    }
  }, 40_000)

  it('refuses a data dir that belongs to another key', async () => {
    const other = join(dir, 'node2', 'config.toml')
    const result = await runCli(['node', 'run', '--config', other, '--data-dir', join(dir, 'node1', 'data')])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^error: data_dir .* belongs to PeerId 12D3KooW\w+, but key_file .* is 12D3KooW\w+/)
  }, 20_000)

  it('reports an HTTP or p2p port in use as one line', async () => {
    const child = startCli(['node', 'run', '--config', config], join(dir, 'port.log'))
    try {
      await waitFor(async () => (await getJson(`${httpUrl}/ephemera/node/health`)).status === 'ok', { timeoutMs: 20_000, what: 'the node to start' })
      const port = new URL(httpUrl).port
      const other = join(dir, 'node2', 'config.toml')
      const result = await runCli(['node', 'run', '--config', other, '--http-port', port])
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(`error: HTTP address 127.0.0.1:${port} is already in use\n`)
      const listen = (await getJson<{ p2p: { listen: string } }>(`${httpUrl}/ephemera/node/config`)).p2p.listen
      const p2p = await runCli(['node', 'run', '--config', other, '--listen', listen])
      expect(p2p.code).toBe(1)
      expect(p2p.stderr).toBe(`error: p2p listen address ${listen} is already in use\n`)
      // one line for the failure: no JSON log line saying the same
      expect(`${result.stdout}${p2p.stdout}`).not.toMatch(/already in use|failed to start/)
    } finally {
      child.kill('SIGTERM')
      await waitForExit(child, 10_000)
    }
  }, 40_000)

  it('writes its log to log.file, rotated by size: at most log.max_files old files, none past the bound', async () => {
    const logFile = join(dir, 'rotated', 'node1.log')
    await mkdir(join(dir, 'rotated'))
    const output = join(dir, 'rotated-output.txt')
    // debug logs a line per HTTP request: polling the node writes the log quickly
    const child = startCli(['node', 'run', '--config', config, '--log-file', logFile, '--set', 'log.max_file_bytes=4096', '--set', 'log.max_files=2'], output, { LOG_LEVEL: 'debug' })
    try {
      await waitFor(async () => {
        await getJson(`${httpUrl}/ephemera/node/health`).catch(() => undefined)
        return (await readdir(join(dir, 'rotated'))).includes('node1.log.2') && (await stat(logFile)).size > 0
      }, { timeoutMs: 30_000, intervalMs: 20, what: 'the log to rotate twice' })
      for (let i = 0; i < 100; i++) await getJson(`${httpUrl}/ephemera/node/health`)
      expect((await readdir(join(dir, 'rotated'))).sort()).toEqual(['node1.log', 'node1.log.1', 'node1.log.2'])
      for (const name of ['node1.log', 'node1.log.1', 'node1.log.2']) {
        const text = await readFile(join(dir, 'rotated', name), 'utf8')
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096)
        for (const line of text.trim().split('\n')) expect(JSON.parse(line)).toHaveProperty('level')
      }
    } finally {
      child.kill('SIGTERM')
      await waitForExit(child, 10_000)
    }
    // nothing of the log on stdout
    expect(await readFile(output, 'utf8')).toBe('')
  }, 60_000)
})
