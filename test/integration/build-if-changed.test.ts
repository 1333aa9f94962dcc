import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTempDir, removeDir } from '../helpers/env.js'

/**
 * `npm start` builds only when sources changed (scripts/build-if-changed.mjs), run in a scratch
 * project whose "tsc" (node_modules/typescript/bin/tsc) only records that it ran and writes the
 * TypeScript entry, and whose CLI bundler (scripts/bundle-cli.mjs) records that it ran and writes
 * the CLI from that entry.
 */
describe('scripts/build-if-changed.mjs', () => {
  let dir: string
  const run = (): string => spawnSync(process.execPath, [join(dir, 'scripts', 'build-if-changed.mjs')], { encoding: 'utf8' }).stdout
  const builds = (): number => readFileSync(join(dir, 'tsc-runs'), 'utf8').split('\n').filter(Boolean).length
  const bundles = (): number => readFileSync(join(dir, 'bundle-runs'), 'utf8').split('\n').filter(Boolean).length

  beforeAll(async () => {
    dir = await makeTempDir()
    for (const d of ['scripts', 'src', 'bin', 'node_modules/typescript/bin']) mkdirSync(join(dir, d), { recursive: true })
    copyFileSync(fileURLToPath(new URL('../../scripts/build-if-changed.mjs', import.meta.url)), join(dir, 'scripts', 'build-if-changed.mjs'))
    writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1\n')
    writeFileSync(join(dir, 'tsconfig.json'), '{}\n')
    writeFileSync(join(dir, 'tsc-runs'), '')
    writeFileSync(join(dir, 'bundle-runs'), '')
    writeFileSync(join(dir, 'node_modules/typescript/bin/tsc'), `const fs = require('node:fs'); const path = require('node:path')
const root = path.join(__dirname, '..', '..', '..')
fs.appendFileSync(path.join(root, 'tsc-runs'), 'ran\\n')
fs.mkdirSync(path.join(root, 'dist', 'bin'), { recursive: true })
fs.writeFileSync(path.join(root, 'dist', 'bin', 'main.js'), '')
`)
    writeFileSync(join(dir, 'scripts', 'bundle-cli.mjs'), `import { appendFileSync, copyFileSync } from 'node:fs'
const root = new URL('..', import.meta.url)
appendFileSync(new URL('bundle-runs', root), 'ran\\n')
copyFileSync(new URL('dist/bin/main.js', root), new URL('dist/bin/ephemera.js', root))
`)
  })

  afterAll(async () => { await removeDir(dir) })

  it('builds the first time, skips while nothing changed, builds again after a source changes', () => {
    expect(run()).toMatch(/^building/)
    expect(builds()).toBe(1)
    expect(bundles()).toBe(1)
    expect(run()).toMatch(/up to date/)
    expect(builds()).toBe(1)
    expect(bundles()).toBe(1)
    // a source edited after the last build (times in the past: the next stamp is "now")
    const at = (s: number): Date => new Date(Date.now() - s * 1000)
    utimesSync(join(dir, 'dist', '.build-stamp'), at(10), at(10))
    utimesSync(join(dir, 'src', 'a.ts'), at(5), at(5))
    expect(run()).toMatch(/^building/)
    expect(builds()).toBe(2)
    expect(bundles()).toBe(2)
    expect(run()).toMatch(/up to date/)
  })
})
