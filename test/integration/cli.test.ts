import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { makeTempDir, removeDir } from '../helpers/env.js'

/** The CLI as a user meets it: help everywhere, one-line errors, non-zero exits. */

const COMMANDS = [
  [],
  ['init'],
  ['node'],
  ['node', 'run'],
  ['cluster'],
  ['cluster', 'up'],
  ['cluster', 'down'],
  ['cluster', 'status'],
  ['cluster', 'clear'],
  ['messages'],
  ['messages', 'submit'],
  ['blocks'],
  ['blocks', 'list'],
  ['blocks', 'show'],
  ['blocks', 'verify'],
  ['contract'],
  ['contract', 'run'],
  ['epochs'],
  ['epochs', 'list'],
  ['epochs', 'show'],
  ['verify'],
  ['keys'],
  ['keys', 'generate'],
  ['keys', 'show']
]

describe('ephemera CLI', () => {
  let dir: string

  beforeAll(async () => {
    dir = await makeTempDir()
  })

  afterAll(async () => {
    await removeDir(dir)
  })

  it.each(COMMANDS.map((c) => [c.join(' ') || '(root)', c]))('%s --help explains itself and exits 0', async (_name, command) => {
    const result = await runCli([...command, '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: ephemera/)
    expect(result.stdout).toContain('Options:')
    expect(result.stderr).toBe('')
  })

  it('lists every command in the root help', async () => {
    const result = await runCli(['--help'])
    for (const name of ['init', 'node', 'contract', 'cluster', 'epochs', 'verify', 'messages', 'blocks', 'keys']) expect(result.stdout).toContain(`  ${name}`)
  })

  const oneLineError = (stderr: string): string => {
    const lines = stderr.trimEnd().split('\n')
    expect(lines, `one line, got: ${stderr}`).toHaveLength(1)
    expect(lines[0]).toMatch(/^error: /)
    expect(stderr).not.toMatch(/\n\s+at /)
    return lines[0]!
  }

  it.each([
    [['init', '--out', 'x', '--bogus'], /unknown option '--bogus'/],
    [['init', '--out', 'x', '--nodes', 'many'], /--nodes <n>' argument 'many' is invalid/],
    [['init', '--nodes', '3'], /required option '--out <dir>' not specified/],
    [['node', 'run'], /required option '--config <file>' not specified/],
    [['node', 'run', '--config', 'c.toml', '--log-level', 'loud'], /argument 'loud' is invalid/],
    [['cluster', 'up', '--nodes', '0'], /argument '0' is invalid/],
    [['nosuchcommand'], /unknown command 'nosuchcommand'/],
    [['blocks', 'show', 'nonsense', '--node', 'http://127.0.0.1:1'], /expected a block hash \(64 hex\), a local height or "last"/],
    [['blocks', 'list', '--node', 'http://127.0.0.1:1'], /cannot reach http:\/\/127\.0\.0\.1:1.*is the node running\?/],
    [['messages', 'submit', '--node', 'http://127.0.0.1:1', '--key', 'nokey', '--label', 'l'], /give exactly one of --data and --data-file/],
    [['verify', '--epoch', '0', '--contract', 'http://127.0.0.1:1'], /argument '0' is invalid/],
    [['verify', '--epoch', '3', '--contract', 'http://127.0.0.1:1'], /cannot reach http:\/\/127\.0\.0\.1:1/],
    [['contract', 'run', '--config', 'nope.toml', '--environment', 'fast'], /argument 'fast' is invalid/],
    [['epochs', 'show', 'x', '--contract', 'http://127.0.0.1:1'], /expected an integer/]
  ])('a bad flag prints one clear line and exits non-zero: %j', async (args, message) => {
    const result = await runCli(args)
    expect(result.code).not.toBe(0)
    expect(oneLineError(result.stderr)).toMatch(message)
  })

  it('a missing config file prints one clear line and exits 1', async () => {
    const missing = join(dir, 'missing.toml')
    const result = await runCli(['node', 'run', '--config', missing])
    expect(result.code).toBe(1)
    expect(oneLineError(result.stderr)).toBe(`error: ${missing}: file does not exist`)
  })

  it('a missing cluster prints one clear line for down and status', async () => {
    for (const command of ['down', 'status']) {
      const result = await runCli(['cluster', command, '--dir', join(dir, 'nothing-here')])
      expect(result.code).toBe(1)
      expect(oneLineError(result.stderr)).toMatch(/no cluster state in .*nothing-here/)
    }
  })

  it('keys generate / show round-trip the PeerId and refuse to overwrite', async () => {
    const file = join(dir, 'k.key')
    const generated = await runCli(['keys', 'generate', '--out', file, '--json'])
    expect(generated.code).toBe(0)
    const { peerId } = JSON.parse(generated.stdout) as { peerId: string }
    expect(peerId).toMatch(/^12D3KooW/)
    const shown = await runCli(['keys', 'show', file, '--json'])
    expect(JSON.parse(shown.stdout)).toMatchObject({ peerId })
    expect(shown.stdout).not.toContain('PRIVATE')
    const again = await runCli(['keys', 'generate', '--out', file])
    expect(again.code).toBe(1)
    expect(oneLineError(again.stderr)).toMatch(/already exists; refusing to overwrite/)
  })

  it('init writes a network and refuses to overwrite it without --force', async () => {
    const out = join(dir, 'net')
    const first = await runCli(['init', '--nodes', '2', '--out', out])
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('initialised 2 nodes')
    const second = await runCli(['init', '--nodes', '2', '--out', out])
    expect(second.code).toBe(1)
    expect(oneLineError(second.stderr)).toMatch(/peers\.toml already exists; refusing to overwrite keys or configs \(use --force/)
    const forced = await runCli(['init', '--nodes', '2', '--out', out, '--force'])
    expect(forced.code).toBe(0)
  })
})
