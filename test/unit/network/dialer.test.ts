import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import type { Member } from '../../../src/config/peers.js'
import { dialsFirst, MemberDialer, type DialerClock, type DialerHost } from '../../../src/network/dialer.js'
import { AbortError } from '../../../src/util/errors.js'
import { silentLogger } from '../../../src/util/logger.js'
import { memberNetworks, until } from './hosts.js'

/**
 * The member dialer's policy, on a scripted host and an injected clock: which side of a pair
 * dials when (the lower PeerId at once, the other after the grace unless the connection came),
 * re-dialling after a disconnect, and backoff after refusals.
 */

/** A clock that moves only when the test says so. */
class ManualClock implements DialerClock {
  #now = 0
  #timers: Array<{ at: number, resolve: () => void }> = []

  now = (): number => this.#now

  sleep = async (ms: number, signal: AbortSignal): Promise<void> => {
    if (signal.aborted) throw new AbortError()
    await new Promise<void>((resolve, reject) => {
      const timer = { at: this.#now + ms, resolve: () => { signal.removeEventListener('abort', onAbort); resolve() } }
      const onAbort = (): void => {
        this.#timers = this.#timers.filter((t) => t !== timer)
        reject(new AbortError())
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#timers.push(timer)
    })
  }

  /** Moves time forward by `ms`, firing due timers in order and letting their continuations run. */
  async advance (ms: number): Promise<void> {
    const end = this.#now + ms
    for (;;) {
      await settle()
      const next = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0]
      if (next == null) break
      this.#timers = this.#timers.filter((t) => t !== next)
      this.#now = next.at
      next.resolve()
    }
    this.#now = end
    await settle()
  }
}

async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
}

type Outcome = 'accept' | 'refuse'

/** A libp2p host whose dials are answered as the test scripts them, and whose connections the test opens and closes. */
class ScriptedHost extends EventTarget {
  readonly connected = new Set<string>()
  readonly dials: Array<{ peer: string, at: number }> = []
  outcome: Outcome = 'accept'

  constructor (private readonly clock: ManualClock) {
    super()
  }

  dial = async (target: { getComponents: () => Array<{ name: string, value?: string }> }): Promise<never> => {
    const peer = target.getComponents().find((c) => c.name === 'p2p')?.value as string
    this.dials.push({ peer, at: this.clock.now() })
    if (this.outcome === 'refuse') throw new Error('ECONNREFUSED')
    this.open(peer)
    return undefined as never
  }

  getConnections = (peerId?: PeerId): Array<{ status: string }> => peerId != null && this.connected.has(peerId.toString()) ? [{ status: 'open' }] : []

  /** A connection to `peer` opens (dialled by either side). */
  open (peer: string): void {
    if (this.connected.has(peer)) return
    this.connected.add(peer)
    this.dispatchEvent(new CustomEvent('peer:connect', { detail: { toString: () => peer } }))
  }

  close (peer: string): void {
    this.connected.delete(peer)
    this.dispatchEvent(new CustomEvent('peer:disconnect', { detail: { toString: () => peer } }))
  }
}

async function peerIds (count: number): Promise<string[]> {
  const ids = await Promise.all(Array.from({ length: count }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
  return ids.sort()
}

const member = (peerId: string, i: number): Member => ({ name: `node${i}`, peerId, address: `/ip4/127.0.0.1/tcp/${10_000 + i}` })

const GRACE = 1_000
const OPTS = { initialBackoffMs: 200, maxBackoffMs: 1_600, dialTimeoutMs: 5_000, answerGraceMs: GRACE }

const dialers: MemberDialer[] = []
afterEach(async () => { await Promise.all(dialers.splice(0).map(async (d) => { await d.stop() })) })

function dialer (self: string, members: Member[], clock: ManualClock, host: ScriptedHost, opts = OPTS): MemberDialer {
  // random() = 0: each backoff is half its ceiling (backoffDelay), so the times are exact
  const d = new MemberDialer(opts, { libp2p: host as unknown as DialerHost, members, self, logger: silentLogger(), clock, random: () => 0 })
  dialers.push(d)
  d.start()
  return d
}

describe('MemberDialer: one connection per pair', () => {
  it('the lower PeerId dials at once; the higher waits the grace and dials only if no connection came', async () => {
    const [low, mid, high] = await peerIds(3) as [string, string, string]
    expect(dialsFirst(low, high)).toBe(true)
    expect(dialsFirst(high, low)).toBe(false)
    const clock = new ManualClock()
    const host = new ScriptedHost(clock)
    // this node is `mid`: it dials `high` at once and waits for `low`
    dialer(mid, [member(low, 1), member(high, 3)], clock, host)
    await clock.advance(0)
    expect(host.dials).toEqual([{ peer: high, at: 0 }])
    await clock.advance(GRACE - 1)
    expect(host.dials.map((d) => d.peer)).toEqual([high])
    await clock.advance(1)
    expect(host.dials).toEqual([{ peer: high, at: 0 }, { peer: low, at: GRACE }])
  })

  it('the higher PeerId never dials when the lower one connects within the grace', async () => {
    const [low, high] = await peerIds(2) as [string, string]
    const clock = new ManualClock()
    const host = new ScriptedHost(clock)
    dialer(high, [member(low, 1)], clock, host)
    await clock.advance(400)
    host.open(low) // the lower one's dial arrives
    await clock.advance(10 * GRACE)
    expect(host.dials).toEqual([])
    expect(host.connected.has(low)).toBe(true)
  })

  it('after a disconnect the lower side re-dials at once, the higher side after the grace', async () => {
    const [low, high] = await peerIds(2) as [string, string]
    const clockLow = new ManualClock()
    const hostLow = new ScriptedHost(clockLow)
    dialer(low, [member(high, 2)], clockLow, hostLow)
    const clockHigh = new ManualClock()
    const hostHigh = new ScriptedHost(clockHigh)
    dialer(high, [member(low, 1)], clockHigh, hostHigh)
    await clockLow.advance(0)
    await clockHigh.advance(0)
    hostHigh.open(low) // the low side's dial, seen from the high side
    expect(hostLow.dials).toEqual([{ peer: high, at: 0 }])
    // a connection that lasted (longer than 2 s) drops
    await clockLow.advance(10_000)
    await clockHigh.advance(10_000)
    hostLow.close(high)
    hostHigh.close(low)
    await clockLow.advance(0)
    await clockHigh.advance(GRACE - 1)
    expect(hostLow.dials).toEqual([{ peer: high, at: 0 }, { peer: high, at: 10_000 }])
    expect(hostHigh.dials).toEqual([])
    await clockHigh.advance(1)
    expect(hostHigh.dials).toEqual([{ peer: low, at: 10_000 + GRACE }])
  })

  it('a refused dial is retried with exponential backoff (full jitter, here its lower bound), capped', async () => {
    const [low, high] = await peerIds(2) as [string, string]
    const clock = new ManualClock()
    const host = new ScriptedHost(clock)
    host.outcome = 'refuse'
    dialer(low, [member(high, 2)], clock, host)
    await clock.advance(5_000)
    // ceilings 200, 400, 800, 1600, 1600 … halved by random() = 0
    expect(host.dials.map((d) => d.at)).toEqual([0, 100, 300, 700, 1_500, 2_300, 3_100, 3_900, 4_700])
    host.outcome = 'accept'
    await clock.advance(800)
    expect(host.connected.has(high)).toBe(true)
    expect(host.dials.length).toBe(10)
  })

  it('with no grace both sides dial at once (the behaviour before the grace)', async () => {
    const [low, high] = await peerIds(2) as [string, string]
    const clock = new ManualClock()
    const host = new ScriptedHost(clock)
    dialer(high, [member(low, 1)], clock, host, { ...OPTS, answerGraceMs: 0 })
    await clock.advance(0)
    expect(host.dials).toEqual([{ peer: low, at: 0 }])
  })

  it('stop() ends every loop, also one waiting out the grace', async () => {
    const [low, high] = await peerIds(2) as [string, string]
    const clock = new ManualClock()
    const host = new ScriptedHost(clock)
    const d = dialer(high, [member(low, 1)], clock, host)
    await clock.advance(100)
    await d.stop()
    await clock.advance(10 * GRACE)
    expect(host.dials).toEqual([])
  })
})

describe('MemberDialer on real libp2p hosts', () => {
  it('four members started together: one connection per pair, dialled by the lower PeerId', async () => {
    const { members, networks } = await memberNetworks(4, () => ({
      initialBackoffMs: 50,
      maxBackoffMs: 500,
      dialTimeoutMs: 10_000,
      // generous, so that a loaded machine's slow handshakes still arrive within it
      answerGraceMs: 10_000,
      gossipHeartbeatMs: 700
    }))
    try {
      await Promise.all(networks.map(async (n) => { await n.start() }))
      await until(() => networks.every((n) => n.groupInfo().connected === 3), 20_000, 'the four hosts to connect')
      networks.forEach((n, i) => {
        const self = members[i]!.peerId
        const connections = n.connections()
        expect(connections.map((c) => c.peerId).sort()).toEqual(members.filter((m) => m.peerId !== self).map((m) => m.peerId).sort())
        for (const c of connections) expect(c.direction, `${members[i]!.name} to ${c.member ?? '?'}`).toBe(dialsFirst(self, c.peerId) ? 'outbound' : 'inbound')
      })
    } finally {
      await Promise.all(networks.map(async (n) => { await n.stop() }))
    }
  }, 40_000)
})
