import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { describe, expect, it } from 'vitest'
import { assertPortsFree, multiaddrPort, portInUse } from '../../../src/cluster/ports.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { freePortBlock } from '../../helpers/env.js'

/** `cluster up` checks the ports it needs before it starts anything. */

async function listen (port: number): Promise<Server> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

async function refusal (promise: Promise<void>): Promise<EphemeraError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    return err as EphemeraError
  }
  throw new Error('expected a refusal')
}

describe('ports', () => {
  it('reads the port of a listen multiaddr', () => {
    expect(multiaddrPort('/ip4/127.0.0.1/tcp/7001')).toEqual({ host: '127.0.0.1', port: 7001 })
    expect(multiaddrPort('/ip4/0.0.0.0/tcp/0')).toEqual({ host: '0.0.0.0', port: 0 })
    expect(multiaddrPort('/memory/x')).toBeUndefined()
  })

  it('tells a taken port from a free one', async () => {
    const port = await freePortBlock(1)
    expect(await portInUse('127.0.0.1', port)).toBe(false)
    const server = await listen(port)
    try {
      expect(await portInUse('127.0.0.1', port)).toBe(true)
    } finally {
      server.close()
    }
  })

  it('refuses taken ports in one line naming each port, its use and the process that holds it', async () => {
    const base = await freePortBlock(3)
    // another process holds base and base+1
    const holder = spawn(process.execPath, ['-e', `const net = require('node:net'); let n = 0; for (const p of [${base}, ${base + 1}]) net.createServer().listen(p, '127.0.0.1', () => { if (++n === 2) console.log('ready') })`], { stdio: ['ignore', 'pipe', 'ignore'] })
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => { resolve() }))
      const err = await refusal(assertPortsFree([
        { host: '127.0.0.1', port: base, what: 'coordinator http' },
        { host: '127.0.0.1', port: base + 1, what: 'node1 p2p' },
        { host: '127.0.0.1', port: base + 2, what: 'node1 http' }
      ], 'the hint'))
      expect(err.code).toBe(ErrorCode.ADDRESS_IN_USE)
      expect(err.message).toMatch(new RegExp(`^ports already in use: ${base} \\(coordinator http\\), ${base + 1} \\(node1 p2p\\) held by pid ${holder.pid} \\(.*node.*\\); refusing to start anything: the hint$`))
      expect(err.message).not.toContain(String(base + 2))
    } finally {
      holder.kill('SIGKILL')
    }
  })

  it('passes free ports, and refuses two uses of one port', async () => {
    const base = await freePortBlock(2)
    await assertPortsFree([{ host: '127.0.0.1', port: base, what: 'a' }, { host: '127.0.0.1', port: base + 1, what: 'b' }], 'hint')
    const err = await refusal(assertPortsFree([{ host: '127.0.0.1', port: base, what: 'node1 http' }, { host: '127.0.0.1', port: base, what: 'node2 p2p' }], 'hint'))
    expect(err.message).toBe(`node1 http and node2 p2p are both configured with port ${base}; give each its own port`)
  })
})
