import type { FastifyInstance } from 'fastify'
import { answer, describeOnly, HEALTH_TAG, route } from './openapi.js'

/** Whether a process can do its job now, and if not, every reason why. */
export interface Readiness {
  ready: boolean
  reasons: string[]
}

const tags = [HEALTH_TAG.name]

/**
 * Kubernetes/systemd-style probes, on nodes and the coordinator: `/livez` answers 200 while the
 * process serves at all; `/readyz` answers 200 when it can do its job, 503 with the reasons
 * otherwise (starting, stopping, storage failed, the coordinator or a quorum of the committee out
 * of reach).
 */
export function registerHealthRoutes (root: FastifyInstance, readiness: () => Readiness): void {
  void root.register(async (app) => {
    describeOnly(app)
    app.get('/livez', {
      schema: route({
        summary: 'Liveness',
        description: 'Answers 200 while the process serves at all (a liveness probe).',
        tags,
        response: { 200: answer('The process is alive.', { status: { type: 'string', const: 'alive' }, pid: { type: 'integer', description: 'The process id.' } }) }
      })
    }, async () => ({ status: 'alive', pid: process.pid }))
    app.get('/readyz', {
      schema: route({
        summary: 'Readiness',
        description: 'Answers 200 when the process can do its job, 503 with every reason while it cannot: starting, stopping, storage failed, or (nodes) the coordinator or a quorum of the epoch\'s committee out of reach. For systemd or Kubernetes readiness probes.',
        tags,
        response: {
          200: answer('Ready.', { status: { type: 'string', const: 'ready' } }),
          503: answer('Not ready, with the reasons.', { status: { type: 'string', const: 'not ready' }, reasons: { type: 'array', items: { type: 'string' } } })
        }
      })
    }, async (_request, reply) => {
      const r = readiness()
      if (r.ready) return { status: 'ready' }
      return await reply.code(503).send({ status: 'not ready', reasons: r.reasons })
    })
  })
}
