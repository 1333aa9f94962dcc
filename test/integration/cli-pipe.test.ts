import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { CLI } from '../helpers/cli.js'

/**
 * `ephemera --help | head -1`: a reader that closes the pipe before the CLI has written makes its
 * writes fail with EPIPE. The CLI ends quietly (exit 0, nothing on stderr), never with a stack.
 */
describe('a closed stdout pipe', () => {
  for (const args of [['--help'], ['cluster', 'up', '--help'], ['init', '--help']]) {
    it(`ephemera ${args.join(' ')} with its stdout closed at once exits 0 without a stack trace`, async () => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      // the reader goes away before the CLI writes anything
      child.stdout.destroy()
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
      const code = await new Promise<number | null>((resolve) => { child.on('exit', (c) => { resolve(c) }) })
      expect(stderr).toBe('')
      expect(code).toBe(0)
    }, 20_000)
  }
})
