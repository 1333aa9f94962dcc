import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Logger } from '../util/logger.js'
import type { Membership } from './membership.js'

const LOG_EVERY_MS = 30_000

export interface RefusalStats {
  /** Connections refused because the remote PeerId is not a member. */
  refused: number
  lastPeerId?: string
  lastAt?: string
}

/**
 * Refuses every connection (either direction) whose authenticated PeerId is not a member. The
 * check runs right after the Noise handshake, before any protocol stream is opened. Each refused
 * peer is logged once per 30 s (with a count), so a retrying outsider cannot flood the log.
 * `cutOff` (test only, the partition switch) refuses members too.
 */
export function membershipGater (membership: Membership, logger: Logger, stats: RefusalStats, now: () => number = Date.now, cutOff: (peerId: string) => boolean = () => false): ConnectionGater {
  const lastLogged = new Map<string, { at: number, suppressed: number }>()
  const refuse = (peerId: PeerId, direction: 'inbound' | 'outbound', maConn?: MultiaddrConnection): boolean => {
    const id = peerId.toString()
    if (membership.isMember(id)) return false
    stats.refused++
    stats.lastPeerId = id
    stats.lastAt = new Date(now()).toISOString()
    const seen = lastLogged.get(id)
    if (seen == null || now() - seen.at >= LOG_EVERY_MS) {
      logger.warn({ peer: id, direction, remote: maConn?.remoteAddr.toString(), suppressedSinceLast: seen?.suppressed ?? 0 },
        'refused connection from non-member')
      if (lastLogged.size > 1000) lastLogged.clear()
      lastLogged.set(id, { at: now(), suppressed: 0 })
    } else {
      seen.suppressed++
    }
    return true
  }
  // TEST ONLY (p2p.fault_partition_file): members cut off by a partition are refused both ways,
  // without counting or logging them as non-members (the partition switch logs each change once)
  return {
    denyDialPeer: (peerId) => !membership.isMember(peerId.toString()) || cutOff(peerId.toString()),
    denyInboundEncryptedConnection: (peerId, maConn) => refuse(peerId, 'inbound', maConn) || cutOff(peerId.toString()),
    denyOutboundEncryptedConnection: (peerId, maConn) => refuse(peerId, 'outbound', maConn) || cutOff(peerId.toString())
  }
}
