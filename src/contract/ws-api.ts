import type { FastifyInstance } from 'fastify'
import { badRequest, parsePositiveInt } from '../api/params.js'
import { frameOf } from '../api/ws-feed.js'
import { eventId } from '../api/ws-frames.js'
import { committedSummary } from '../epochs/epoch-summary.js'
import { WsEventHub, type EventSource, type HubEvent, type Replay, type WsHubOptions } from '../api/ws-hub.js'
import { parseTypes, registerWsRoute } from '../api/ws-route.js'
import type { EpochRecordJson } from '../epochs/record.js'
import { CONTRACT_EVENT_TYPES } from './events.js'

/** The coordinator's WebSocket push of events (README "HTTP API", `WS /contract/ws`). */
export const CONTRACT_WS_PATH = '/contract/ws'

/** What the route reads of the coordinator. */
export interface ContractWsSource {
  epochInfo: (now: number) => { epoch: number }
  records: (opts: { from?: number, limit: number }) => Promise<EpochRecordJson[]>
}

export interface ContractWsOptions extends WsHubOptions {
  /** Most epochs one `from_epoch` replay covers (`http.ws_max_replay`). */
  maxReplay: number
}

/**
 * Registers `WS /contract/ws` and returns its hub. `?types=` picks the event types (default all);
 * `?from_epoch=E` first replays the committed records from epoch E (`epoch` frames, and
 * `committee` frames for the changes they carry; at most `maxReplay` epochs back), then continues
 * live with no gap and no duplicate.
 */
export function registerContractWsRoute (root: FastifyInstance, coordinator: ContractWsSource, events: EventSource, clock: () => number, opts: ContractWsOptions): WsEventHub {
  const hub = new WsEventHub(events, opts)
  registerWsRoute(root, {
    path: CONTRACT_WS_PATH,
    summary: 'Live events: committed epochs, rollbacks, committee changes, evidence, round progress (WebSocket)',
    description: 'A WebSocket: each frame is JSON `{type, [type]: payload}`. Types: `epoch` (a committed record, summarised), `committee` (a committed committee change: effective epoch and decisions), `rollback` (a round attempt rolled back, with the reason), `round` (the other round events: lease and verifier expiries, failed verifications, a failed or committed epoch), `evidence` (evidence accepted and the ban it caused). `?types=` picks them (default all). `?from_epoch=E` first replays the committed records from epoch E (`epoch` and `committee` frames; at most `http.ws_max_replay` epochs back), then a `{type: "replayed", replayed: {fromEpoch, toEpoch, frames}}` frame, then live events with no gap and no duplicate. README "HTTP API" → "WebSocket frames" documents every frame and close code.',
    tags: ['epochs'],
    query: {
      types: { description: `Comma-separated event types among ${CONTRACT_EVENT_TYPES.join(', ')} (default: all).` },
      from_epoch: { description: 'Replay the committed records from this epoch (≥ 1, at most the current epoch, at most http.ws_max_replay epochs before it) before the live events. Needs "epoch" or "committee" in types.' }
    },
    hub,
    accept: (query) => {
      const types = parseTypes(query.types, CONTRACT_EVENT_TYPES, CONTRACT_EVENT_TYPES)
      if (query.from_epoch == null) return { types }
      const from = parsePositiveInt(query.from_epoch, 'from_epoch')
      if (!types.has('epoch') && !types.has('committee')) throw badRequest('from_epoch replays committed records: add "epoch" or "committee" to types')
      const current = coordinator.epochInfo(clock()).epoch
      if (from > current) throw badRequest(`from_epoch ${from} has not started: the current epoch is ${current}`)
      if (current - from > opts.maxReplay) {
        throw badRequest(`from_epoch ${from} is ${current - from} epochs back; at most ${opts.maxReplay} are replayed (http.ws_max_replay): read older records with GET /contract/epochs and resume from a later epoch`)
      }
      return { types, replay: recordReplay(coordinator, clock, from, opts.maxReplay) }
    }
  })
  return hub
}

/** The records stored from `from` up to the epoch before the one running when the replay starts, read one at a time (later commits arrive live). */
function recordReplay (coordinator: ContractWsSource, clock: () => number, from: number, maxReplay: number): Replay {
  let through = from - 1
  return {
    events: async function * (signal): AsyncIterable<HubEvent> {
      // the running epoch has no record yet: the records up to the one before it
      through = coordinator.epochInfo(clock()).epoch - 1
      if (through - from + 1 > maxReplay) throw badRequest(`replay of ${through - from + 1} epochs is over http.ws_max_replay (${maxReplay})`)
      let next = from
      while (next <= through && !signal.aborted) {
        const [record] = await coordinator.records({ from: next, limit: 1 })
        if (record == null || record.epoch > through) return
        yield { type: 'epoch', id: eventId.epoch(record.epoch), frame: frameOf('epoch', committedSummary(record)) }
        const change = record.committeeChange
        if (change != null) yield { type: 'committee', id: eventId.committee(change.decidedAt), frame: frameOf('committee', change) }
        next = record.epoch + 1
      }
    },
    end: (frames) => frameOf('replayed', { fromEpoch: from, toEpoch: through, frames })
  }
}
