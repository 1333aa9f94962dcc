/**
 * The scale simulation's matrix (`npm run sim:scale`): N = 4 … 100 × {ours, all-propose} over
 * several network models, with the costs measured on this machine; scale-doc.ts renders it.
 */
import { cpus } from 'node:os'
import { thresholds } from '../../src/broadcast/machine.js'
import { testKeys } from '../helpers/rbc-fixtures.js'
import { makeProposal, makeReport, rbcFrameBytes, reportBytes, simParameters } from './epoch-fixtures.js'
import { runEpochs, type Design, type EpochSimResult } from './epoch-sim.js'
import type { NetworkModel } from './net-model.js'
import { Rng } from './rbc-sim.js'
import { measureBlock, measureCrypto, measurePersist, type CostModel } from './sim-costs.js'

export const MODELS: NetworkModel[] = [
  { name: 'loopback', latencyMs: 0.2, jitter: 0.1, uplinkMbit: 10_000, chunkBytes: 16 * 1024 },
  { name: 'LAN', latencyMs: 1, jitter: 0.1, uplinkMbit: 1_000, chunkBytes: 16 * 1024 },
  { name: 'WAN', latencyMs: 20, jitter: 0.2, uplinkMbit: 100, chunkBytes: 16 * 1024 }
]

export const SIZES = [4, 7, 10, 16, 25, 50, 100]
export const MIXNODES = 1_000
export const EPOCH_MS = 10_000

/** Epochs per row: the all-propose rows at N = 50 and 100 cost ~2N³ machine steps each, so fewer. */
export function epochsFor (n: number, design: Design, leaderDown = false): number {
  if (design === 'ours') return leaderDown ? 3 : 5
  return n >= 100 ? 1 : n >= 50 ? 2 : 5
}

export interface Row {
  model: string
  n: number
  design: Design
  leaderDown: boolean
  costs: CostModel
  epochs: EpochSimResult[]
  /** CPU seconds this row took to simulate (this process). */
  cpuSeconds: number
}

export interface Sizes { n: number, reportBytes: number, proposeBytes: number }

export interface ScaleReport {
  date: string
  machine: string
  node: string
  mixnodes: number
  epochMs: number
  models: NetworkModel[]
  costs: CostModel
  sizes: Sizes[]
  echoBytes: number
  readyBytes: number
  rows: Row[]
}

/** Frame sizes of one epoch's messages at N: a report, the PROPOSE of a block of all N reports. */
function sizesAt (n: number): Sizes {
  const keys = testKeys(n)
  const rng = new Rng(1)
  const parameters = simParameters(MIXNODES, thresholds(n).q)
  const reports = keys.map((k) => makeReport(k, 1, parameters, rng))
  const p = makeProposal(keys.map((k) => k.publicKey), keys[0] as (typeof keys)[number], 1, reports)
  return { n, reportBytes: reportBytes(reports[0] as (typeof reports)[number]), proposeBytes: rbcFrameBytes({ type: 'propose', ...p }) }
}

const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}

export interface ScaleOptions {
  sizes?: readonly number[]
  models?: readonly NetworkModel[]
  /** The model of the leader-down rows. */
  leaderDownModel?: string
  log?: (line: string) => void
}

export async function runScale (opts: ScaleOptions = {}): Promise<ScaleReport> {
  const log = opts.log ?? (() => {})
  const sizes = opts.sizes ?? SIZES
  const models = opts.models ?? MODELS
  const persistUs = await measurePersist()
  const costs: CostModel = { ...measureCrypto(MIXNODES), ...measureBlock(MIXNODES), persistUs }
  log(`costs (µs): ${JSON.stringify(costs)}`)
  const rows: Row[] = []
  const run = (model: NetworkModel, n: number, design: Design, leaderDown: boolean): void => {
    const since = process.cpuUsage()
    const epochs = runEpochs({ n, mixnodes: MIXNODES, design, network: model, costs, epochMs: EPOCH_MS, epochs: epochsFor(n, design, leaderDown), seed: n * 7919 + 1, leaderDown })
    const row: Row = { model: model.name, n, design, leaderDown, costs, epochs, cpuSeconds: cpuSeconds(since) }
    rows.push(row)
    const e = epochs[0] as EpochSimResult
    log(`${model.name} N=${n} ${design}${leaderDown ? ' (leader down)' : ''}: ${epochs.length} epochs, ${e.rbc.total.messages} RBC msgs, ready ${epochs.map((x) => x.readyMs?.toFixed(1) ?? '-').join('/')} ms, ${row.cpuSeconds.toFixed(1)} s CPU${epochs.some((x) => x.problems.length > 0) ? `, problems: ${epochs.flatMap((x) => x.problems).slice(0, 3).join('; ')}` : ''}`)
  }
  for (const model of models) {
    for (const n of sizes) {
      for (const design of ['ours', 'all-propose'] as const) run(model, n, design, false)
    }
  }
  const downModel = models.find((m) => m.name === opts.leaderDownModel) ?? models[models.length - 1] as NetworkModel
  for (const n of sizes) run(downModel, n, 'ours', true)
  const small = sizesAt(4)
  const echo = rbcFrameBytes({ type: 'echo', round: 1, creator: new Uint8Array(32), hash: new Uint8Array(32) })
  const ready = rbcFrameBytes({ type: 'ready', round: 1, creator: new Uint8Array(32), hash: new Uint8Array(32), signature: new Uint8Array(64) })
  return {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
    node: process.version,
    mixnodes: MIXNODES,
    epochMs: EPOCH_MS,
    models: [...models],
    costs,
    sizes: [small, ...sizes.filter((n) => n !== 4).map(sizesAt)],
    echoBytes: echo,
    readyBytes: ready,
    rows
  }
}
