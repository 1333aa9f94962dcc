import { readFile } from 'node:fs/promises'
import type { Logger } from '../util/logger.js'
import { errorMessage } from '../util/errors.js'

/**
 * TEST ONLY: a network partition switch for the perturbation suite (test/e2e), set by the node
 * config key `p2p.fault_partition_file`.
 *
 * The node polls the file (every 200 ms by default). It lists PeerIds, one per line (blank lines
 * and `#` comments are ignored); an absent or empty file means no partition. The node hangs up on
 * every listed peer, refuses new connections with them in both directions (connection gater) and
 * does not dial them (member dialer). Removing a peer from the file heals the link: the dialer
 * reconnects at once. Each change is logged once.
 */
export class PartitionSwitch {
  readonly file: string
  readonly #pollMs: number
  readonly #logger: Logger
  readonly #name: (peerId: string) => string
  readonly #read: (file: string) => Promise<string | undefined>
  readonly #listeners = new Set<(change: PartitionChange) => void>()
  #blocked: ReadonlySet<string> = new Set()
  #timer: NodeJS.Timeout | undefined
  #polling: Promise<void> | undefined
  #lastError: string | undefined

  constructor (opts: { file: string, pollMs?: number }, modules: { logger: Logger, name?: (peerId: string) => string | undefined, read?: (file: string) => Promise<string | undefined> }) {
    this.file = opts.file
    this.#pollMs = opts.pollMs ?? 200
    this.#logger = modules.logger
    this.#name = (peerId) => modules.name?.(peerId) ?? peerId
    this.#read = modules.read ?? readIfExists
  }

  /** PeerIds currently cut off. */
  get blocked (): ReadonlySet<string> {
    return this.#blocked
  }

  isBlocked (peerId: string): boolean {
    return this.#blocked.has(peerId)
  }

  /** Called after every change, with the peers newly blocked and newly healed. */
  onChange (listener: (change: PartitionChange) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Reads the file once (so a node started partitioned never connects), then polls it. */
  async start (): Promise<void> {
    if (this.#timer != null) return
    this.#logger.warn({ file: this.file }, 'TEST FAULT MODE: network partition switch enabled (p2p.fault_partition_file)')
    await this.poll()
    this.#timer = setInterval(() => {
      if (this.#polling == null) this.#polling = this.poll().finally(() => { this.#polling = undefined })
    }, this.#pollMs)
    this.#timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#polling
  }

  /** Reads the file and applies a change, if any. */
  async poll (): Promise<void> {
    let text: string | undefined
    try {
      text = await this.#read(this.file)
      this.#lastError = undefined
    } catch (err) {
      // keep the current state; say so once per distinct problem
      const message = errorMessage(err)
      if (message !== this.#lastError) this.#logger.warn({ file: this.file, err: message }, 'cannot read the partition file; keeping the current partition')
      this.#lastError = message
      return
    }
    const next = parsePartitionFile(text ?? '')
    const added = [...next].filter((p) => !this.#blocked.has(p))
    const removed = [...this.#blocked].filter((p) => !next.has(p))
    if (added.length === 0 && removed.length === 0) return
    this.#blocked = next
    this.#logger.warn({
      blocked: [...next].map(this.#name),
      cut: added.map(this.#name),
      healed: removed.map(this.#name)
    }, next.size === 0 ? 'TEST FAULT: partition healed' : 'TEST FAULT: partition changed')
    for (const listener of this.#listeners) listener({ blocked: next, added, removed })
  }
}

export interface PartitionChange {
  blocked: ReadonlySet<string>
  /** Peers cut off by this change. */
  added: string[]
  /** Peers reachable again. */
  removed: string[]
}

/** One PeerId per line; blank lines and `#` comments are ignored. */
export function parsePartitionFile (text: string): Set<string> {
  const peers = new Set<string>()
  for (const line of text.split('\n')) {
    const value = line.replace(/#.*/, '').trim()
    if (value !== '') peers.add(value)
  }
  return peers
}

async function readIfExists (file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
