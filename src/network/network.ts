import { peerIdFromString } from '@libp2p/peer-id'
import type { NodeKey } from '../crypto/keys.js'
import type { Logger } from '../util/logger.js'
import { withTimeout } from '../util/time.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import { MemberDialer, type DialerOptions } from './dialer.js'
import { membershipGater, type RefusalStats } from './gater.js'
import { createNodeLibp2p, type NodeLibp2p } from './libp2p.js'
import { PartitionSwitch } from './fault-partition.js'
import type { Membership } from './membership.js'
import type { Registry } from 'prom-client'

export interface NetworkOptions extends DialerOptions {
  listen: string
  gossipHeartbeatMs: number
  /** How often each connection is pinged (libp2p.ts CONNECTION_MONITOR). */
  pingIntervalMs?: number
  stopTimeoutMs?: number
  /** TEST ONLY (`p2p.fault_partition_file`): a file of PeerIds to cut off; see fault-partition.ts. */
  faultPartitionFile?: string
}

export interface NetworkModules {
  key: NodeKey
  membership: Membership
  logger: Logger
  /** The node's metrics registry, for libp2p's own metrics (libp2p.ts). */
  metricsRegistry?: Registry
}

export interface GroupMemberInfo {
  name: string
  peerId: string
  address: string
  self: boolean
  connected: boolean
}

export interface ConnectionInfo {
  peerId: string
  /** Member name, or null for a non-member. */
  member: string | null
  direction: 'inbound' | 'outbound'
  remoteAddr: string
  openedAt: string
}

export interface GroupInfo {
  localPeerId: string
  size: number
  quorum: number
  maxFaulty: number
  connected: number
  members: GroupMemberInfo[]
  refusedNonMembers: RefusalStats
}

/**
 * Of two members, the higher PeerId waits this long for the lower one's connection before dialing
 * itself (dialer.ts): members that start together make one connection per pair, not two.
 */
const ANSWER_GRACE_MS = 1_000

/** The network facade: the libp2p host, membership gating and member re-dialling. */
export class Network {
  readonly libp2p: NodeLibp2p
  readonly membership: Membership
  readonly #dialer: MemberDialer
  readonly #logger: Logger
  readonly #refusals: RefusalStats
  readonly #stopTimeoutMs: number
  readonly #listen: string
  readonly #partition: PartitionSwitch | undefined
  #status: 'stopped' | 'started' = 'stopped'

  private constructor (libp2p: NodeLibp2p, dialer: MemberDialer, refusals: RefusalStats, modules: NetworkModules, opts: NetworkOptions, partition: PartitionSwitch | undefined) {
    this.libp2p = libp2p
    this.#partition = partition
    this.#listen = opts.listen
    this.membership = modules.membership
    this.#dialer = dialer
    this.#logger = modules.logger
    this.#refusals = refusals
    this.#stopTimeoutMs = opts.stopTimeoutMs ?? 5_000
    for (const [event, message] of [['peer:connect', 'member connected'], ['peer:disconnect', 'member disconnected']] as const) {
      libp2p.addEventListener(event, (evt) => {
        const member = this.membership.get(evt.detail.toString())
        if (member != null) this.#logger.info({ member: member.name, peer: member.peerId }, message)
      })
    }
  }

  static async create (opts: NetworkOptions, modules: NetworkModules): Promise<Network> {
    const refusals: RefusalStats = { refused: 0 }
    const partition = opts.faultPartitionFile == null
      ? undefined
      : new PartitionSwitch({ file: opts.faultPartitionFile }, { logger: modules.logger, name: (peerId) => modules.membership.get(peerId)?.name })
    const cutOff = partition == null ? undefined : (peerId: string): boolean => partition.isBlocked(peerId)
    const libp2p = await createNodeLibp2p({
      privateKey: modules.key.privateKey,
      listen: opts.listen,
      gater: membershipGater(modules.membership, modules.logger, refusals, Date.now, cutOff),
      memberAddresses: modules.membership.members.map((m) => m.address),
      gossipHeartbeatMs: opts.gossipHeartbeatMs,
      pingIntervalMs: opts.pingIntervalMs,
      metricsRegistry: modules.metricsRegistry
    })
    const dialer = new MemberDialer({ answerGraceMs: Math.min(ANSWER_GRACE_MS, opts.dialTimeoutMs), ...opts }, { libp2p, members: modules.membership.others, self: modules.membership.self.peerId, logger: modules.logger, cutOff })
    // the registered validators change (admissions, drops, bans): dial the new, hang up on the gone
    modules.membership.onChange(({ removed }) => {
      void dialer.setMembers(modules.membership.others).catch((err: unknown) => { modules.logger.warn({ err: errorMessage(err) }, 'could not follow the new members') })
      for (const m of removed) {
        void libp2p.hangUp(peerIdFromString(m.peerId)).catch((err: unknown) => { modules.logger.debug({ peer: m.peerId, err: errorMessage(err) }, 'hang-up failed') })
      }
      if (removed.length > 0) modules.logger.info({ removed: removed.map((m) => m.name) }, 'no longer registered validators: connections closed')
    })
    partition?.onChange(({ added, removed }) => {
      for (const peer of added) {
        if (!modules.membership.isMember(peer)) continue // not a member: nothing to hang up on
        void libp2p.hangUp(peerIdFromString(peer)).catch((err: unknown) => { modules.logger.debug({ peer, err: errorMessage(err) }, 'partition: hang-up failed') })
      }
      for (const peer of removed) dialer.heal(peer)
    })
    return new Network(libp2p, dialer, refusals, modules, opts, partition)
  }

  async start (): Promise<void> {
    if (this.#status === 'started') return
    // read the partition file first, so a node started partitioned never connects across it
    await this.#partition?.start()
    try {
      await this.libp2p.start()
    } catch (err) {
      await Promise.resolve(this.libp2p.stop()).catch(() => {})
      await this.#partition?.stop()
      const listen = this.#listen
      if (errorMessage(err).includes('EADDRINUSE')) throw new EphemeraError(ErrorCode.ADDRESS_IN_USE, `p2p listen address ${listen} is already in use`)
      throw new EphemeraError(ErrorCode.ADDRESS_IN_USE, `cannot start the p2p host on ${listen}: ${errorMessage(err).split('\n')[0] ?? ''}`)
    }
    this.#status = 'started'
    this.#logger.info({ listen: this.libp2p.getMultiaddrs().map(String), members: this.membership.size }, 'p2p host started')
    this.#dialer.start()
  }

  async stop (): Promise<void> {
    if (this.#status === 'stopped') return
    this.#status = 'stopped'
    await this.#partition?.stop()
    await this.#dialer.stop()
    try {
      await withTimeout(async () => { await this.libp2p.stop() }, this.#stopTimeoutMs, 'stopping libp2p')
    } catch (err) {
      this.#logger.warn({ err: errorMessage(err) }, 'libp2p did not stop cleanly')
    }
  }

  /** Every open libp2p connection, members or not (non-members should never appear). */
  connections (): ConnectionInfo[] {
    return this.libp2p.getConnections().filter((c) => c.status === 'open').map((c) => ({
      peerId: c.remotePeer.toString(),
      member: this.membership.get(c.remotePeer.toString())?.name ?? null,
      direction: c.direction,
      remoteAddr: c.remoteAddr.toString(),
      openedAt: new Date(c.timeline.open).toISOString()
    }))
  }

  groupInfo (): GroupInfo {
    const connectedIds = new Set(this.libp2p.getConnections().filter((c) => c.status === 'open').map((c) => c.remotePeer.toString()))
    const members = this.membership.members.map((m) => ({
      name: m.name,
      peerId: m.peerId,
      address: m.address,
      self: m.peerId === this.membership.self.peerId,
      connected: connectedIds.has(m.peerId)
    }))
    return {
      localPeerId: this.membership.self.peerId,
      size: this.membership.size,
      quorum: this.membership.quorum,
      maxFaulty: this.membership.maxFaulty,
      connected: members.filter((m) => m.connected).length,
      members,
      refusedNonMembers: { ...this.#refusals }
    }
  }
}
