import type { FastifyInstance } from 'fastify'
import type { DeliveredBlock } from '../broadcast/index.js'
import { fromHex } from '../codec/bytes.js'
import type { StoredBlock } from '../storage/index.js'
import { errorMessage } from '../util/errors.js'
import { badRequest, parsePositiveInt } from './params.js'
import { frameOf, mergedSource } from './ws-feed.js'
import { blockPayload, eventId } from './ws-frames.js'
import { WsEventHub, type EventSource, type HubEvent, type Replay, type WsHubOptions } from './ws-hub.js'
import { parseTypes, registerWsRoute } from './ws-route.js'

/** The node's WebSocket push of events (README "HTTP API", `WS /ephemera/broadcast/ws`). */
export const WS_BLOCKS_PATH = '/ephemera/broadcast/ws'

/** The node's event types; without `?types=` a client gets `block` only, as before the others existed. */
export const NODE_EVENT_TYPES = ['block', 'epoch', 'committee', 'evidence'] as const
const DEFAULT_NODE_TYPES = ['block']

/** Blocks replayed for one client at most (`http.ws_max_replay`) unless told otherwise. */
export const DEFAULT_WS_MAX_REPLAY = 1000

/** Delivered blocks (the broadcast engine). */
export interface DeliveredFeed {
  /** Calls `listener` for each delivered block, once it is stored; the returned function unsubscribes. */
  onDelivered: (listener: (delivered: DeliveredBlock) => void) => () => void
}

/** The stored blocks a `from_height` replay reads (the engine's BlockStore). */
export interface BlockReader {
  readonly lastHeight: number
  atHeight: (height: number) => Promise<StoredBlock | undefined>
}

export interface NodeWsSources {
  delivered: DeliveredFeed
  blocks: BlockReader
  /** The other events: `epoch`, `committee`, `evidence` (src/api/node-events.ts). */
  events?: EventSource
}

export interface WsRoutesOptions extends WsHubOptions {
  /** Most blocks one `from_height` replay sends (`http.ws_max_replay`). */
  maxReplay?: number
}

/**
 * Registers `WS /ephemera/broadcast/ws` and returns its hub, whose stats() the caller may expose.
 * `?types=` picks the event types (default `block`); `?from_height=H` first replays the stored
 * blocks from local height H (at most `maxReplay` of them), then continues live with no gap and
 * no duplicate.
 */
export function registerWsRoutes (root: FastifyInstance, sources: NodeWsSources, opts: WsRoutesOptions): WsEventHub {
  const maxReplay = opts.maxReplay ?? DEFAULT_WS_MAX_REPLAY
  const blocks: EventSource = {
    subscribe: (listener) => sources.delivered.onDelivered((delivered) => {
      const event = blockEvent(delivered, opts)
      if (event != null) listener(event)
    })
  }
  const hub = new WsEventHub(mergedSource(sources.events != null ? [blocks, sources.events] : [blocks]), opts)
  registerWsRoute(root, {
    path: WS_BLOCKS_PATH,
    summary: 'Live events: delivered blocks, committed epochs, committee changes, evidence (WebSocket)',
    description: 'A WebSocket: each frame is JSON `{type, [type]: payload}`. Types: `block` (each block this node delivers, `{type: "block", block}`), `epoch` (an epoch committed as this node adopted its official record), `committee` (a committee change this node learned from the coordinator), `evidence` (equivocation evidence this node detected, and what came of sending it). `?types=` picks them (default `block` only). `?from_height=H` first replays the stored blocks from local height H (at most `http.ws_max_replay`), then a `{type: "replayed", replayed: {fromHeight, toHeight, frames}}` frame, then live events with no gap and no duplicate. README "HTTP API" → "WebSocket frames" documents every frame and close code.',
    tags: ['broadcast'],
    query: {
      types: { description: `Comma-separated event types among ${NODE_EVENT_TYPES.join(', ')} (default: block).` },
      from_height: { description: `Replay the stored blocks from this local height (≥ 1, at most the last + 1), at most http.ws_max_replay of them, before the live events. Needs "block" in types.` }
    },
    hub,
    accept: (query) => {
      const types = parseTypes(query.types, NODE_EVENT_TYPES, DEFAULT_NODE_TYPES)
      if (query.from_height == null) return { types }
      const from = parsePositiveInt(query.from_height, 'from_height')
      if (!types.has('block')) throw badRequest('from_height replays blocks: add "block" to types')
      const last = sources.blocks.lastHeight
      if (from > last + 1) throw badRequest(`from_height ${from} is beyond the next block: the last delivered block is at local height ${last}`)
      if (last - from + 1 > maxReplay) throw badRequest(tooMany(from, last, maxReplay))
      return { types, replay: blockReplay(sources.blocks, from, maxReplay) }
    }
  })
  return hub
}

function tooMany (from: number, last: number, maxReplay: number): string {
  return `from_height ${from} asks for ${last - from + 1} blocks; at most ${maxReplay} are replayed (http.ws_max_replay): read older ones with GET /ephemera/broadcast/blocks?from=${from}&order=asc and resume from a later height`
}

/** The stored blocks from `from` to the last one when the replay starts (later ones arrive live). */
function blockReplay (blocks: BlockReader, from: number, maxReplay: number): Replay {
  let through = from - 1
  return {
    events: async function * (signal): AsyncIterable<HubEvent> {
      through = blocks.lastHeight
      // more were delivered between the check and the upgrade: still refused beyond the bound (close 1008)
      if (through - from + 1 > maxReplay) throw badRequest(`replay of ${through - from + 1} blocks is over http.ws_max_replay (${maxReplay})`)
      for (let height = from; height <= through && !signal.aborted; height++) {
        const stored = await blocks.atHeight(height)
        if (stored == null) continue
        yield { type: 'block', id: eventId.block(height), frame: frameOf('block', blockPayload(stored.block, fromHex(stored.hash, 32) as Uint8Array, height)) }
      }
    },
    end: (frames) => frameOf('replayed', { fromHeight: from, toHeight: through, frames })
  }
}

function blockEvent (delivered: DeliveredBlock, opts: WsRoutesOptions): HubEvent | undefined {
  try {
    return { type: 'block', id: eventId.block(delivered.localHeight), frame: frameOf('block', blockPayload(delivered.block, delivered.hash, delivered.localHeight)) }
  } catch (err) {
    opts.logger?.error({ err: errorMessage(err), localHeight: delivered.localHeight }, 'cannot serialise a delivered block for WebSocket clients')
    return undefined
  }
}
