import type { FastifyInstance } from 'fastify'
import { messageToJson, peerIdOf } from '../block/json.js'
import type { RewardsService } from '../rewards/service.js'
import { decodeReport } from '../epochs/report.js'
import { notFound, parseEpoch } from './params.js'

/** The rewards part of the node API: pipeline state, official records, collected reports. */
export function registerRewardsRoutes (app: FastifyInstance, rewards: RewardsService): void {
  app.get('/ephemera/rewards/status', async () => rewards.status())

  app.get<{ Params: { epoch: string } }>('/ephemera/rewards/epochs/:epoch', async (request) => {
    const epoch = parseEpoch(request.params.epoch)
    const { progress, official } = await rewards.epoch(epoch)
    if (progress == null && official == null) throw notFound(`this node has no state for epoch ${epoch}`)
    return { epoch, progress: progress ?? null, official: official ?? null }
  })

  app.get<{ Params: { epoch: string } }>('/ephemera/rewards/epochs/:epoch/reports', async (request) => {
    const epoch = parseEpoch(request.params.epoch)
    return {
      epoch,
      reports: rewards.reports(epoch).map((m) => {
        const report = decodeReport(m.data)
        return { sender: peerIdOf(report.sender), mixnodes: report.values.length, message: messageToJson(m) }
      })
    }
  })

  app.get('/ephemera/rewards/evidence', async () => ({
    evidence: (await rewards.evidence()).map((e) => ({ epoch: e.epoch, sender: e.sender, message: messageToJson(e.message) }))
  }))
}
