import type { FastifyInstance } from 'fastify'
import { messageToJson, peerIdOf } from '../block/json.js'
import type { RewardsService } from '../rewards/service.js'
import { decodeReport } from '../epochs/report.js'
import { answer, describeOnly, errors, parameters, positiveInt, route } from './openapi.js'
import { notFound, parseEpoch } from './params.js'

const tags = ['rewards']
const epochParams = parameters({ epoch: positiveInt('The epoch number.') })

/** The rewards part of the node API: pipeline state, official records, collected reports. */
export function registerRewardsRoutes (root: FastifyInstance, rewards: RewardsService): void {
  void root.register(async (app) => {
    describeOnly(app)
    app.get('/ephemera/rewards/status', {
      schema: route({
        summary: 'The rewards pipeline',
        description: 'The coordinator, whether it is connected (and any disagreement with it), the current epoch, the report threshold, the mode, and the state of the last 20 epochs.',
        tags,
        response: { 200: answer('The pipeline state.') }
      })
    }, async () => rewards.status())

    app.get<{ Params: { epoch: string } }>('/ephemera/rewards/epochs/:epoch', {
      schema: route({
        summary: "This node's view of an epoch",
        description: "`progress` is this node's pipeline state for the epoch (`state`, `reason`, reporters, the proposed and certified block, the submission outcome, the winner, timings and latency); `official` is the coordinator's record, verified by this node and kept. Either is null when absent.",
        tags,
        params: epochParams,
        response: {
          200: answer('The epoch.', { epoch: { type: 'integer' }, progress: { type: ['object', 'null'] }, official: { type: ['object', 'null'] } }),
          ...errors({ 400: 'The epoch is not a positive integer.', 404: 'This node has no state for the epoch.' })
        }
      })
    }, async (request) => {
      const epoch = parseEpoch(request.params.epoch)
      const { progress, official } = await rewards.epoch(epoch)
      if (progress == null && official == null) throw notFound(`this node has no state for epoch ${epoch}`)
      return { epoch, progress: progress ?? null, official: official ?? null }
    })

    app.get<{ Params: { epoch: string } }>('/ephemera/rewards/epochs/:epoch/reports', {
      schema: route({
        summary: 'Reports collected for an epoch',
        description: 'The performance reports this node collected for the epoch, each with its sender, the number of mixnodes it rates and the signed message carrying it.',
        tags,
        params: epochParams,
        response: {
          200: answer('The reports.', { epoch: { type: 'integer' }, reports: { type: 'array', items: { type: 'object', properties: { sender: { type: 'string' }, mixnodes: { type: 'integer' }, message: { type: 'object' } } } } }),
          ...errors({ 400: 'The epoch is not a positive integer.' })
        }
      })
    }, async (request) => {
      const epoch = parseEpoch(request.params.epoch)
      return {
        epoch,
        reports: rewards.reports(epoch).map((m) => {
          const report = decodeReport(m.data)
          return { sender: peerIdOf(report.sender), mixnodes: report.values.length, message: messageToJson(m) }
        })
      }
    })

    app.get('/ephemera/rewards/evidence', {
      schema: route({
        summary: 'Report equivocation evidence',
        description: 'Pairs of different reports by one member for one epoch: `{evidence: [{epoch, sender, message}]}`.',
        tags,
        response: { 200: answer('The evidence.', { evidence: { type: 'array', items: { type: 'object' } } }) }
      })
    }, async () => ({
      evidence: (await rewards.evidence()).map((e) => ({ epoch: e.epoch, sender: e.sender, message: messageToJson(e.message) }))
    }))
  })
}
