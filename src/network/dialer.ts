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
}

export interface DialerModules {
  libp2p: NodeLibp2p
  members: readonly Member[]
  logger: Logger
  random?: () => number
  /** TEST ONLY (the partition switch): members not to dial while this says so. */
  cutOff?: (peerId: string) => boolean
}

/** While a member is cut off, its loop re-checks at least this often (besides heal()). */
const CUT_OFF_RECHECK_MS = 1_000

/**
 * Keeps a connection to every member: dials each at start, and whenever one is lost re-dials it
 * with exponential backoff (with jitter) until it is back. One loop per member, all stopped by
 * one AbortController.
 */
export class MemberDialer {
  readonly #opts: DialerOptions
  #modules: DialerModules
  #controller: AbortController | undefined
  /** One loop per member (by PeerId), each stoppable on its own when the member goes. */
  readonly #loops = new Map<string, { controller: AbortController, done: Promise<void> }>()
  /** Per member: resolve to wake its loop (on disconnect). */
  readonly #wakers = new Map<string, () => void>()
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.#wakers.get(evt.detail.toString())?.()
  }

  constructor (opts: DialerOptions, modules: DialerModules) {
    this.#opts = opts
    this.#modules = modules
    this.#addresses = new Map(modules.members.map((m) => [m.peerId, m.address]))
  }

  start (): void {
    if (this.#controller != null) return
    this.#controller = new AbortController()
    this.#modules.libp2p.addEventListener('peer:disconnect', this.#onDisconnect)
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

  async #waitForHeal (member: Member, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wakers.delete(member.peerId)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, CUT_OFF_RECHECK_MS)
      this.#wakers.set(member.peerId, done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  async #keepConnected (member: Member, signal: AbortSignal): Promise<void> {
    const { libp2p, logger } = this.#modules
    const peerId = peerIdFromString(member.peerId)
    const target = multiaddr(`${member.address}/p2p/${member.peerId}`)
    const log = logger.child({ member: member.name, peer: member.peerId })
    let failures = 0
    const backoff = async (): Promise<boolean> => {
      const delay = backoffDelay(failures - 1, this.#opts.initialBackoffMs, this.#opts.maxBackoffMs, this.#modules.random)
      try {
        await sleep(delay, signal)
        return true
      } catch (err) {
        if (err instanceof AbortError) return false
        throw err
      }
    }
    while (!signal.aborted) {
      if (this.#modules.cutOff?.(member.peerId) === true) {
        await this.#waitForHeal(member, signal)
        continue
      }
      if (this.#isConnected(peerId)) {
        const connectedAt = Date.now()
        await this.#waitForDisconnect(member, peerId, signal)
        // a connection that drops at once (e.g. the member refuses us) counts as a failed
        // attempt, so a flapping peer is re-dialled with backoff, not in a tight loop
        if (Date.now() - connectedAt < STABLE_CONNECTION_MS) {
          failures++
          if (!await backoff()) break
        } else {
          failures = 0
        }
        continue
      }
      try {
        await libp2p.dial(target, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.#opts.dialTimeoutMs)]) })
        if (failures > 0) log.info({ attempts: failures + 1 }, 'reconnected to member')
        else log.debug('dialled member')
      } catch (err) {
        if (signal.aborted) break
        failures++
        // the first failure is worth a line; the rest of an outage only at debug
        log[failures === 1 ? 'info' : 'debug']({ attempt: failures, err: errorMessage(err) }, 'member unreachable, will retry')
        if (!await backoff()) break
      }
    }
  }
}
