import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { Member } from '../config/peers.js'
import type { Logger } from '../util/logger.js'
import { AbortError, errorMessage } from '../util/errors.js'
import { backoffDelay, sleep } from '../util/time.js'
import type { NodeLibp2p } from './libp2p.js'

/** A connection that lasts less than this is treated as a failed dial for backoff purposes. */
const STABLE_CONNECTION_MS = 2_000

export interface DialerOptions {
  initialBackoffMs: number
  maxBackoffMs: number
  dialTimeoutMs: number
  /**
   * Of each pair of members, the one with the lower PeerId dials at once; the other first waits
   * this long for that connection to arrive and dials only if it has not (0: both dial at once).
   * Two members that both dial at the same moment get two connections: two Noise handshakes,
   * two identify exchanges, twice the streams.
   */
  answerGraceMs?: number
}

/** Time as the dialer sees it; the real clock unless a test injects one. */
export interface DialerClock {
  now: () => number
  /** Resolves after `ms`; rejects with AbortError as soon as `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
}

/** The part of the libp2p host the dialer uses. */
export type DialerHost = Pick<NodeLibp2p, 'dial' | 'getConnections' | 'addEventListener' | 'removeEventListener'>

export interface DialerModules {
  libp2p: DialerHost
  members: readonly Member[]
  /** This node's PeerId: decides which side of each pair dials first. */
  self: string
  logger: Logger
  random?: () => number
  clock?: DialerClock
  /** TEST ONLY (the partition switch): members not to dial while this says so. */
  cutOff?: (peerId: string) => boolean
}

/** While a member is cut off, its loop re-checks at least this often (besides heal()). */
const CUT_OFF_RECHECK_MS = 1_000

const REAL_CLOCK: DialerClock = { now: Date.now, sleep }

/** Whether this node dials `member` at once (it has the lower PeerId of the pair). */
export function dialsFirst (self: string, member: string): boolean {
  return self < member
}

/**
 * Keeps a connection to every member: dials each at start, and whenever one is lost re-dials it
 * with exponential backoff (with jitter) until it is back. Of each pair, the lower PeerId dials
 * at once and the other waits `answerGraceMs` for it first, so that two members starting (or
 * losing their connection) together end up with one connection, not two. One loop per member,
 * all stopped by one AbortController.
 */
export class MemberDialer {
  readonly #opts: DialerOptions
  #modules: DialerModules
  readonly #clock: DialerClock
  #controller: AbortController | undefined
  /** One loop per member (by PeerId), each stoppable on its own when the member goes. */
  readonly #loops = new Map<string, { controller: AbortController, done: Promise<void> }>()
  /** Per member: call to wake its loop from waiting for a disconnect or a heal. */
  readonly #wakers = new Map<string, () => void>()
  /** Per member: call to end its wait for the other side's connection. */
  readonly #connectWakers = new Map<string, () => void>()
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#wakers.get(evt.detail.toString())?.()
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    this.#connectWakers.get(evt.detail.toString())?.()
  }

  constructor (opts: DialerOptions, modules: DialerModules) {
    this.#opts = opts
    this.#modules = modules
    this.#clock = modules.clock ?? REAL_CLOCK
    this.#addresses = new Map(modules.members.map((m) => [m.peerId, m.address]))
  }

  start (): void {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    this.#modules.libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#modules.libp2p.addEventListener('peer:connect', this.#onConnect)
    for (const member of this.#modules.members) this.#startLoop(member)
  }

  #startLoop (member: Member): void {
    const controller = new AbortController()
    const signal = AbortSignal.any([controller.signal, (this.#controller as AbortController).signal])
    const done = this.#keepConnected(member, signal)
      .catch((err: unknown) => { this.#modules.logger.warn({ member: member.name, err: errorMessage(err) }, 'dial loop stopped') })
    this.#loops.set(member.peerId, { controller, done })
  }

  /** Follows a changed set of members: dials the new ones (or new addresses), stops dialling those gone. */
  async setMembers (members: readonly Member[]): Promise<void> {
    const wanted = new Map(members.map((m) => [m.peerId, m]))
    const stopped: Array<Promise<void>> = []
    for (const [peerId, loop] of this.#loops) {
      if (wanted.has(peerId) && this.#addresses.get(peerId) === wanted.get(peerId)?.address) continue
      loop.controller.abort()
      this.#wakers.get(peerId)?.()
      stopped.push(loop.done)
      this.#loops.delete(peerId)
    }
    await Promise.allSettled(stopped)
    this.#addresses = new Map(members.map((m) => [m.peerId, m.address]))
    if (this.#controller == null) {
      this.#modules = { ...this.#modules, members }
      return
    }
    for (const member of members) if (!this.#loops.has(member.peerId)) this.#startLoop(member)
  }

  #addresses = new Map<string, string>()

  async stop (): Promise<void> {
    if (this.#controller == null) return
    this.#controller.abort()
    this.#modules.libp2p.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#modules.libp2p.removeEventListener('peer:connect', this.#onConnect)
    for (const wake of this.#wakers.values()) wake()
    await Promise.allSettled([...this.#loops.values()].map((l) => l.done))
    this.#controller = undefined
    this.#loops.clear()
  }

  /** Wakes the loop of a member that is no longer cut off, so it dials at once. */
  heal (peerId: string): void {
    this.#wakers.get(peerId)?.()
  }

  #isConnected (peerId: PeerId): boolean {
    return this.#modules.libp2p.getConnections(peerId).some((c) => c.status === 'open')
  }

  async #waitForDisconnect (member: Member, peerId: PeerId, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.#wakers.delete(member.peerId)
        signal.removeEventListener('abort', done)
        resolve()
      }
      this.#wakers.set(member.peerId, done)
      signal.addEventListener('abort', done, { once: true })
      // the disconnect may have happened before the waker was registered
      if (!this.#isConnected(peerId)) done()
    })
  }

  /**
   * Waits `ms`, or less: until the waker registered under the member's PeerId in `wakers` is
   * called, or `signal` aborts (then it resolves too; the caller checks the signal).
   */
  async #pause (ms: number, member: Member, wakers: Map<string, () => void>, signal: AbortSignal): Promise<void> {
    const wake = new AbortController()
    const waker = (): void => { wake.abort() }
    wakers.set(member.peerId, waker)
    try {
      await this.#clock.sleep(ms, AbortSignal.any([signal, wake.signal]))
    } catch (err) {
      if (!(err instanceof AbortError)) throw err
    } finally {
      if (wakers.get(member.peerId) === waker) wakers.delete(member.peerId)
    }
  }

  async #keepConnected (member: Member, signal: AbortSignal): Promise<void> {
    const { libp2p, logger } = this.#modules
    const peerId = peerIdFromString(member.peerId)
    const target = multiaddr(`${member.address}/p2p/${member.peerId}`)
    const log = logger.child({ member: member.name, peer: member.peerId })
    const graceMs = this.#opts.answerGraceMs ?? 0
    // the higher PeerId of the pair lets the other dial first: at start and after each disconnect
    const answers = graceMs > 0 && !dialsFirst(this.#modules.self, member.peerId)
    let awaitOther = answers
    let failures = 0
    const backoff = async (): Promise<boolean> => {
      const delay = backoffDelay(failures - 1, this.#opts.initialBackoffMs, this.#opts.maxBackoffMs, this.#modules.random)
      try {
        await this.#clock.sleep(delay, signal)
        return true
      } catch (err) {
        if (err instanceof AbortError) return false
        throw err
      }
    }
    while (!signal.aborted) {
      if (this.#modules.cutOff?.(member.peerId) === true) {
        await this.#pause(CUT_OFF_RECHECK_MS, member, this.#wakers, signal)
        continue
      }
      if (this.#isConnected(peerId)) {
        const connectedAt = this.#clock.now()
        await this.#waitForDisconnect(member, peerId, signal)
        if (signal.aborted) break
        // a connection that drops at once (e.g. the member refuses us) counts as a failed
        // attempt, so a flapping peer is re-dialled with backoff, not in a tight loop
        if (this.#clock.now() - connectedAt < STABLE_CONNECTION_MS) {
          failures++
          if (!await backoff()) break
        } else {
          failures = 0
        }
        awaitOther = answers
        continue
      }
      if (awaitOther) {
        awaitOther = false
        await this.#pause(graceMs, member, this.#connectWakers, signal)
        continue
      }
      try {
        await libp2p.dial(target, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.#opts.dialTimeoutMs)]) })
        if (failures > 0) log.info({ attempts: failures + 1 }, 'reconnected to member')
        else log.debug('dialled member')
      } catch (err) {
        if (signal.aborted) break
        // the other side's connection may have arrived while ours was being set up
        if (this.#isConnected(peerId)) continue
        failures++
        // the first failure is worth a line; the rest of an outage only at debug
        log[failures === 1 ? 'info' : 'debug']({ attempt: failures, err: errorMessage(err) }, 'member unreachable, will retry')
        if (!await backoff()) break
      }
    }
  }
}
