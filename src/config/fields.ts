import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import * as z from 'zod'
import { LOG_LEVELS } from '../util/logger.js'

/** Schema building blocks shared by the node, peers and coordinator configs. */

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export const nameField = z.string().regex(NAME_PATTERN, 'must be 1-64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit')

export const portField = z.number().int('must be an integer').min(0).max(65535)

export function msField (min: number, max: number): z.ZodNumber {
  return z.number().int('must be an integer number of milliseconds').min(min).max(max)
}

/** A TCP multiaddr (`/ip4/127.0.0.1/tcp/4001`), without a `/p2p/` part. */
export const tcpMultiaddrField = z.string().superRefine((value, ctx) => {
  let components
  try {
    components = multiaddr(value).getComponents()
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a valid multiaddr' })
    return
  }
  const [host, transport, ...rest] = components
  if (host == null || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(host.name) || transport?.name !== 'tcp' || rest.length > 0) {
    ctx.addIssue({ code: 'custom', message: 'must be a TCP multiaddr like /ip4/127.0.0.1/tcp/4001 (no /p2p part)' })
  }
})

export const peerIdField = z.string().superRefine((value, ctx) => {
  try {
    if (peerIdFromString(value).type !== 'Ed25519') ctx.addIssue({ code: 'custom', message: 'must be an Ed25519 PeerId (12D3KooW...)' })
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a valid PeerId' })
  }
})

export const httpUrlField = z.string().superRefine((value, ctx) => {
  try {
    const url = new URL(value)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' })
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a valid URL' })
  }
})

export const logLevelField = z.enum(LOG_LEVELS)

/**
 * [heap], for nodes and the coordinator: short-lived allocation kept up between bursts of work so
 * that V8 keeps its young generation committed (src/util/heap-warmth.ts, README "Why 10 s epochs
 * are slower").
 */
export const heapSectionField = z.strictObject({
  /** Young-generation allocation per second kept up with short-lived arrays (default 2 MiB/s); 0 turns it off. */
  warm_bytes_per_second: z.number().int().min(0).max(64 * 1024 * 1024).default(2 * 1024 * 1024)
}).prefault({})

/** The `log` section of both processes' configs (README "Configuration"). */
export const logSectionField = z.strictObject({
  /** trace, debug, info, warn, error, fatal or silent. The LOG_LEVEL variable overrides it. */
  level: logLevelField.default('info'),
  /** Write log lines to this file (rotated by size) instead of stdout. Relative to the config file. */
  file: z.string().min(1).optional(),
  /** log.file: rotate once the file would grow past this many bytes. */
  max_file_bytes: z.number().int().min(4096).max(1024 * 1024 * 1024).default(10 * 1024 * 1024),
  /** log.file: rotated files kept (FILE.1 the newest … FILE.N); older ones are deleted. */
  max_files: z.number().int().min(1).max(100).default(5)
}).prefault({})
