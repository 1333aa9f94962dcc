import { blockToJson, type BlockJson } from '../block/json.js'
import type { Block } from '../block/types.js'

/**
 * The payloads of the WebSocket frames both processes send (README "HTTP API" → "WebSocket
 * frames"). Every frame is `{type, [type]: payload}`. The `epoch` payload is the committed epoch's
 * entry of `GET /contract/epochs` (src/epochs/epoch-summary.ts), on both processes.
 */

/** `block` (node): the delivered block as `GET /ephemera/broadcast/block/{hash}` gives it, with its local height (no `deliveredAt`). */
export type BlockFrameJson = BlockJson & { localHeight: number }

export function blockPayload (block: Block, hash: Uint8Array, localHeight: number): BlockFrameJson {
  return { ...blockToJson(block, hash), localHeight }
}

/** Ids of the events a replay also produces: their live copies are not sent twice (src/api/ws-hub.ts). */
export const eventId = {
  block: (localHeight: number): string => `block:${localHeight}`,
  epoch: (epoch: number): string => `epoch:${epoch}`,
  /** A committee change, by the epoch whose record decided it. */
  committee: (decidedAt: number): string => `committee:${decidedAt}`
}
