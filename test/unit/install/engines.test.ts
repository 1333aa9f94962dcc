import { readFileSync } from 'node:fs'
import semver from 'semver'
import { describe, expect, it } from 'vitest'

/**
 * A clean `npm install` prints no engine warnings on the Node version the project supports: every
 * package in the lock file accepts it (package.json's overrides pin the few whose newest versions
 * need Node 22).
 */

const root = new URL('../../../', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { version?: string, engines?: { node?: string } | string[] }> }

describe('engines', () => {
  it('every locked package accepts the lowest Node version package.json promises', () => {
    const lowest = semver.minVersion(pkg.engines.node)?.version as string
    expect(lowest).toBe('20.19.0')
    const refusing = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !Array.isArray(p.engines) && p.engines?.node != null && !semver.satisfies(lowest, p.engines.node))
      .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version ?? '?'} needs node ${(p.engines as { node: string }).node}`)
    expect(refusing).toEqual([])
  })
})
