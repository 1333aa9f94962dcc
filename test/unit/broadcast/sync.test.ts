import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { toHex } from '../../../src/codec/bytes.js'
import { CertifiedSync, type SyncModules } from '../../../src/broadcast/sync.js'
import type { Block, Certificate } from '../../../src/block/types.js'

/** A member's key: 32 bytes of `i`. */
const keyOf = (i: number): Uint8Array => new Uint8Array(32).fill(i)
/** A block hash: 32 bytes of `h`. */
const hashOf = (h: number): Uint8Array => new Uint8Array(32).fill(h)

/**
 * Five members (self is member 0) that each delivered the blocks `held[i]` (block hashes, in their
 * local height order); this node holds `own`. Requests are recorded as `list i` / `fetch i h`.
 */
function setup (held: number[][], own: number[], opts: { connected?: number[], failing?: number[] } = {}): { sync: CertifiedSync, requests: string[], stored: Set<string> } {
  const requests: string[] = []
  const stored = new Set(own.map((h) => toHex(hashOf(h))))
  const members = held.map((_, i) => ({ name: `m${i}`, publicKey: keyOf(i) }))
  const indexOf = (peer: Uint8Array): number => peer[0] as number
  const modules: SyncModules = {
    transport: {
      syncList: async (peer, afterHeight, limit) => {
        const i = indexOf(peer)
        requests.push(`list ${i}`)
        if (opts.failing?.includes(i) === true) throw new Error('no answer')
        const blocks = held[i] as number[]
        const entries = blocks.map((h, k) => ({ height: k + 1, hash: hashOf(h) })).filter((e) => e.height > afterHeight).slice(0, limit)
        return { lastHeight: blocks.length, entries }
      },
      certified: async (peer, hash) => {
        requests.push(`fetch ${indexOf(peer)} ${hash[0] as number}`)
        return { block: {} as unknown as Block, certificate: {} as unknown as Certificate }
      }
    },
    network: { isConnected: (peer) => opts.connected?.includes(indexOf(peer)) ?? true },
    store: { has: async (hash) => stored.has(hash) },
    members: () => members,
    self: keyOf(0),
    accept: async (_block, hash) => { stored.add(toHex(hash)); return undefined },
    logger: pino({ level: 'silent' })
  }
  return { sync: new CertifiedSync(modules), requests, stored }
}

const signal = new AbortController().signal

describe('CertifiedSync rounds', () => {
  it('asks one member per round while nothing is missing, each member in turn', async () => {
    const all = [1, 2, 3]
    const { sync, requests } = setup([all, all, all, all, all], all)
    for (let round = 0; round < 6; round++) await sync.round(signal)
    expect(requests).toEqual(['list 1', 'list 2', 'list 3', 'list 4', 'list 1', 'list 2'])
    expect(sync.synced).toBe(0)
  })

  it('goes on to the next member while members fill gaps, and stops at the first that lists nothing lacking', async () => {
    // this node missed blocks 2 and 3; member 1 has only 2, member 2 has both
    const { sync, requests, stored } = setup([[1, 2, 3], [1, 2], [1, 2, 3], [1, 2, 3], [1, 2, 3]], [1])
    await sync.round(signal)
    expect(requests).toEqual(['list 1', 'fetch 1 2', 'list 2', 'fetch 2 3', 'list 3'])
    expect(stored.has(toHex(hashOf(3)))).toBe(true)
    expect(sync.synced).toBe(2)
    // the next round starts after member 3; only blocks after the cursor are listed
    requests.length = 0
    await sync.round(signal)
    expect(requests).toEqual(['list 4'])
  })

  it('skips members it is not connected to and goes past one that does not answer', async () => {
    const all = [1, 2]
    const { sync, requests } = setup([all, all, all, all, all], [1], { connected: [1, 2, 4], failing: [1] })
    await sync.round(signal)
    expect(requests).toEqual(['list 1', 'list 2', 'fetch 2 2', 'list 4'])
    expect(sync.synced).toBe(1)
  })

  it('asks nobody when no member is connected', async () => {
    const { sync, requests } = setup([[1], [1], [1]], [], { connected: [] })
    await sync.round(signal)
    expect(requests).toEqual([])
  })
})
