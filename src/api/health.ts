import type { FastifyInstance } from 'fastify'

/** Whether a process can do its job now, and if not, every reason why. */
export interface Readiness {
  ready: boolean
  reasons: string[]
}

/**
 * Kubernetes/systemd-style probes, on nodes and the coordinator: `/livez` answers 200 while the
 * process serves at all; `/readyz` answers 200 when it can do its job, 503 with the reasons
 * otherwise (starting, stopping, storage failed, the coordinator or a quorum of the committee out
 * of reach).
 */
export function registerHealthRoutes (app: FastifyInstance, readiness: () => Readiness): void {
  app.get('/livez', async () => ({ status: 'alive', pid: process.pid }))
  app.get('/readyz', async (_request, reply) => {
    const r = readiness()
    if (r.ready) return { status: 'ready' }
    return await reply.code(503).send({ status: 'not ready', reasons: r.reasons })
  })
}
