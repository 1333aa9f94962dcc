import type { FastifyInstance } from 'fastify'

/** `GET /metrics`: Prometheus text exposition (README "Metrics"). */
export function registerMetricsRoute (app: FastifyInstance, text: () => Promise<string>): void {
  app.get('/metrics', async (_request, reply) => await reply.type('text/plain; version=0.0.4; charset=utf-8').send(await text()))
}
