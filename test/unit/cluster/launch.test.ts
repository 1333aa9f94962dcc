import { describe, expect, it } from 'vitest'
import { childEnv, cliInvocation, PROCESS_ENV, PROCESS_NODE_OPTIONS } from '../../../src/cluster/launch.js'

/** What a cluster's children run: the same node and CLI entry, this process's node options, and the cluster's own. */

describe('cliInvocation', () => {
  it('runs the same CLI entry with this process\'s node options and the cluster\'s', () => {
    expect(PROCESS_NODE_OPTIONS).toEqual(['--max-semi-space-size=1'])
    expect(cliInvocation([], '/x/dist/bin/ephemera.js')).toEqual({ command: process.execPath, args: ['--max-semi-space-size=1', '/x/dist/bin/ephemera.js'] })
    expect(cliInvocation(['--enable-source-maps'], '/x/ephemera.js').args).toEqual(['--enable-source-maps', '--max-semi-space-size=1', '/x/ephemera.js'])
  })

  it('keeps an option this process was given instead of adding the cluster\'s', () => {
    expect(cliInvocation(['--max-semi-space-size=8'], '/x/ephemera.js').args).toEqual(['--max-semi-space-size=8', '/x/ephemera.js'])
  })

  it('gives children the malloc setting unless the caller\'s environment sets it, and LOG_LEVEL info unless set', () => {
    expect(PROCESS_ENV).toEqual({ MALLOC_MMAP_THRESHOLD_: '131072' })
    expect(childEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072', LOG_LEVEL: 'info' })
    expect(childEnv({ MALLOC_MMAP_THRESHOLD_: '0', LOG_LEVEL: 'debug' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '0', LOG_LEVEL: 'debug' })
  })

  it('refuses to guess without a CLI entry', () => {
    expect(() => cliInvocation([], null)).toThrow(/cannot locate the ephemera CLI script/)
  })
})
