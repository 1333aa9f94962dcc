import type { FastifyInstance } from 'fastify'
import type { ConnectionInfo, GroupInfo } from '../network/index.js'
import { registerHealthRoutes, type Readiness } from './health.js'
import { answer, describeOnly, route } from './openapi.js'

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
  /** The coordinator's dashboard (README "Dashboard"); null without a coordinator (app = "messages"). */
  dashboard: string | null
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

export function registerNodeRoutes (root: FastifyInstance, source: NodeApiSource): void {
  registerHealthRoutes(root, () => source.readiness())
  void root.register(async (app) => {
    describeOnly(app)
    app.get('/ephemera/node/health', {
      schema: route({
        summary: "The node's health",
        description: '`startupMs` gives how long each part took to start (`database`, `network`, `broadcast` with its state loaded from disk, `rewards` or `producer`, `http`) and `process`, from the process start to serving.',
        tags: ['health'],
        response: {
          200: answer('Health, identity and build.', {
            status: { type: 'string', enum: ['ok', 'starting', 'stopping'] },
            name: { type: 'string' },
            peerId: { type: 'string' },
            pid: { type: 'integer' },
            uptimeSeconds: { type: 'number' },
            startedAt: { type: 'string', format: 'date-time' },
            connectedMembers: { type: 'integer' },
            members: { type: 'integer' },
            startupMs: { type: 'object', additionalProperties: { type: 'number' } },
            build: { type: 'object', properties: { version: { type: 'string' }, node: { type: 'string' }, platform: { type: 'string' } } },
            dashboard: { type: ['string', 'null'], description: 'The coordinator\'s dashboard page (README "Dashboard"); null without a coordinator.' }
          })
        }
      })
    }, async () => source.health())
    app.get('/ephemera/node/config', {
      schema: route({
        summary: 'The effective configuration',
        description: 'The configuration in force, plus `peerId`, `listenAddresses` and `httpUrl`. It never contains key material.',
        tags: ['node'],
        response: { 200: answer('The configuration.') }
      })
    }, async () => source.publicConfig())
    app.get('/ephemera/broadcast/group/info', {
      schema: route({
        summary: 'The broadcast group',
        description: 'The members this node broadcasts with, whether each is connected, and the quorum: `{localPeerId, size, quorum, maxFaulty, connected, members: [{name, peerId, address, self, connected}], refusedNonMembers}`.',
        tags: ['node'],
        response: { 200: answer('The group.') }
      })
    }, async () => source.groupInfo())
    app.get('/ephemera/node/connections', {
      schema: route({
        summary: 'Open libp2p connections',
        description: 'Every open libp2p connection: `{connections: [{peerId, member, direction, remoteAddr, openedAt}]}`. A non-member never appears here.',
        tags: ['node'],
        response: { 200: answer('The connections.', { connections: { type: 'array', items: { type: 'object' } } }) }
      })
    }, async () => ({ connections: source.connections() }))
  })
}
