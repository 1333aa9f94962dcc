import type { FastifyInstance } from 'fastify'
import { describeOnly, METRICS_TAG, route } from './openapi.js'

/** `GET /metrics`: Prometheus text exposition (README "Metrics"). */
export function registerMetricsRoute (root: FastifyInstance, text: () => Promise<string>): void {
  void root.register(async (app) => {
    describeOnly(app)
    app.get('/metrics', {
      schema: route({
        summary: 'Prometheus metrics',
        description: 'Every metric of this process in the Prometheus text exposition format 0.0.4 (README "Metrics" lists them with their meaning).',
        tags: [METRICS_TAG.name],
        produces: ['text/plain'],
        response: { 200: { description: 'The metrics, as text/plain; version=0.0.4.', type: 'string' } }
      })
    }, async (_request, reply) => await reply.type('text/plain; version=0.0.4; charset=utf-8').send(await text()))
  })
}
