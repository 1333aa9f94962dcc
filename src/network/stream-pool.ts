import type { Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** An open request stream between exchanges: the stream and its frame reader/writer. */
export interface PooledStream {
  stream: Stream
  lp: LengthPrefixedStream<Stream>
}

export interface StreamPoolOptions {
  /** Idle streams kept per (peer, protocol); more are closed. */
  maxIdlePerKey: number
  /** An idle stream is closed after this long unused (below the server's own idle timeout). */
  idleMs: number
}

export const DEFAULT_STREAM_POOL: StreamPoolOptions = { maxIdlePerKey: 2, idleMs: 10_000 }

/** Whether both ends of a stream are still open for another exchange. */
export function reusable (stream: Stream): boolean {
  return stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable' &&
    stream.readStatus !== 'closed' && stream.readStatus !== 'closing' && stream.remoteReadStatus !== 'closed' && stream.remoteReadStatus !== 'closing'
}

/**
 * Request streams kept open between exchanges, per (peer, protocol). Opening a libp2p stream
 * (yamux stream, protocol negotiation, close handshake) costs milliseconds of CPU on each side;
 * an exchange on an open stream a fraction of that. Bounded: at most `maxIdlePerKey` idle streams
 * per key, each closed after `idleMs` unused, every key dropped with its last stream.
 */
export class StreamPool {
  readonly #opts: StreamPoolOptions
  readonly #idle = new Map<string, Array<PooledStream & { timer: NodeJS.Timeout }>>()

  constructor (opts: StreamPoolOptions = DEFAULT_STREAM_POOL) {
    if (!Number.isInteger(opts.maxIdlePerKey) || opts.maxIdlePerKey < 0) throw new RangeError('maxIdlePerKey must be a non-negative integer')
    this.#opts = opts
  }

  /** An idle stream still open both ways, or undefined (dead ones found on the way are dropped). */
  take (key: string): PooledStream | undefined {
    const list = this.#idle.get(key)
    while (list != null && list.length > 0) {
      const entry = list.pop() as PooledStream & { timer: NodeJS.Timeout }
      clearTimeout(entry.timer)
      if (list.length === 0) this.#idle.delete(key)
      if (reusable(entry.stream)) return { stream: entry.stream, lp: entry.lp }
      entry.stream.abort(new Error('stream no longer open'))
    }
    return undefined
  }

  /** Keeps a stream after a successful exchange, or closes it when it cannot be kept. */
  give (key: string, pooled: PooledStream): void {
    const list = this.#idle.get(key) ?? []
    if (!reusable(pooled.stream) || list.length >= this.#opts.maxIdlePerKey) {
      close(pooled.stream)
      return
    }
    const timer = setTimeout(() => {
      const current = this.#idle.get(key)
      const index = current?.findIndex((e) => e.stream === pooled.stream) ?? -1
      if (current == null || index < 0) return
      current.splice(index, 1)
      if (current.length === 0) this.#idle.delete(key)
      close(pooled.stream)
    }, this.#opts.idleMs)
    timer.unref()
    list.push({ ...pooled, timer })
    this.#idle.set(key, list)
  }

  /** Idle streams held, over all keys. */
  get size (): number {
    let n = 0
    for (const list of this.#idle.values()) n += list.length
    return n
  }

  /** Closes every idle stream (the host stops). */
  clear (): void {
    for (const list of this.#idle.values()) {
      for (const entry of list) {
        clearTimeout(entry.timer)
        close(entry.stream)
      }
    }
    this.#idle.clear()
  }
}

function close (stream: Stream): void {
  stream.close().catch(() => { stream.abort(new Error('close failed')) })
}
