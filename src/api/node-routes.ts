import type { FastifyInstance } from 'fastify'
import type { ConnectionInfo, GroupInfo } from '../network/index.js'
import { registerHealthRoutes, type Readiness } from './health.js'

export interface NodeHealth {
  status: 'ok' | 'starting' | 'stopping'
  name: string
  peerId: string
  /** The process id: lets a supervisor check that what answers is the process it started. */
  pid: number
  uptimeSeconds: number
  startedAt: string
  connectedMembers: number
  members: number
  /** How long each part took to start (state loading included), and `process`: process start → serving. */
  startupMs: Readonly<Record<string, number>>
  /** This build's version and the runtime it runs on. */
  build: { version: string, node: string, platform: string }
}

/** What the node's HTTP routes read; the composition root provides it. */
export interface NodeApiSource {
  health: () => NodeHealth
  /** For /readyz: whether the node can do its job, and why not. */
  readiness: () => Readiness
  /** The effective configuration with nothing secret in it. */
  publicConfig: () => Record<string, unknown>
  groupInfo: () => GroupInfo
  connections: () => ConnectionInfo[]
}

export function registerNodeRoutes (app: FastifyInstance, source: NodeApiSource): void {
  registerHealthRoutes(app, () => source.readiness())
  app.get('/ephemera/node/health', async () => source.health())
  app.get('/ephemera/node/config', async () => source.publicConfig())
  app.get('/ephemera/broadcast/group/info', async () => source.groupInfo())
  app.get('/ephemera/node/connections', async () => ({ connections: source.connections() }))
}
