import { errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import type { EventSource, HubEvent, HubListener } from './ws-hub.js'

/** The frame of an event: `{type, [type]: payload}` as UTF-8 JSON (README "HTTP API", WebSocket frames). */
export function frameOf (type: string, payload: unknown): Buffer {
  return Buffer.from(JSON.stringify({ type, [type]: payload }))
}

/**
 * A source of typed events for a WsEventHub. emit() builds the payload and serialises the frame
 * once, and only while someone listens (a process without WebSocket clients pays nothing). A
 * payload that cannot be built or a listener that throws is logged, never thrown at the emitter.
 */
export class EventFeed implements EventSource {
  readonly #listeners = new Set<HubListener>()
  readonly #logger: Logger | undefined

  constructor (logger?: Logger) {
    this.#logger = logger
  }

  subscribe (listener: HubListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  get listening (): boolean {
    return this.#listeners.size > 0
  }

  /** Emits `{type, [type]: payload()}`; `id` names an event a replay can also produce (src/api/ws-hub.ts). */
  emit (type: string, payload: () => unknown, id?: string): void {
    if (this.#listeners.size === 0) return
    let event: HubEvent
    try {
      event = { type, frame: frameOf(type, payload()), ...(id != null ? { id } : {}) }
    } catch (err) {
      this.#logger?.error({ err: errorMessage(err), type, id }, 'cannot serialise an event for WebSocket clients')
      return
    }
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch (err) {
        this.#logger?.warn({ err: errorMessage(err), type }, 'WebSocket event listener failed')
      }
    }
  }
}

/** Several sources as one (subscribing subscribes to all of them). */
export function mergedSource (sources: readonly EventSource[]): EventSource {
  return {
    subscribe: (listener) => {
      const offs = sources.map((s) => s.subscribe(listener))
      return () => { for (const off of offs) off() }
    }
  }
}
