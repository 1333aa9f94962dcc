import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { messageSigningBytes } from '../../src/block/encoding.js'
import type { ClientMessage } from '../../src/block/types.js'
import { BlockProducer, BroadcastEngine, DefaultApplication, type Application, type BroadcastOptions } from '../../src/broadcast/index.js'
import { toHex } from '../../src/codec/bytes.js'
import { NodeKey } from '../../src/crypto/keys.js'
import { Database } from '../../src/storage/index.js'
import { MemoryNetwork, type MemoryPeer } from './memory-network.js'

/** Options of an in-process test engine: fast timers, real defaults for every bound. */
export function engineOptions (overrides: Partial<BroadcastOptions> = {}): BroadcastOptions {
  return {
    mempool: { maxMessages: 10_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 600_000 },
    transport: {
      retransmitInitialMs: 50,
      retransmitMaxMs: 1_000,
      maxAgeMs: 60_000,
      maxMessages: 10_000,
      maxBytes: 64 * 1024 * 1024,
      requestTimeoutMs: 5_000,
      peerBytesPerSecond: 32 * 1024 * 1024,
      peerMessagesPerSecond: 10_000
    },
    syncIntervalMs: 500,
    fetchDeadlineMs: 30_000,
    maxEvidence: 1_000,
    ...overrides
  }
}

/** A logger that keeps its lines (parsed) for assertions; level warn unless LOG_LEVEL says. */
export function captureLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { logger, lines }
}

export interface TestNode {
  index: number
  name: string
  key: NodeKey
  dir: string
  peer: MemoryPeer
  engine: BroadcastEngine
  db: Database
  producer?: BlockProducer
  /** The application's own lifecycle, when it has one (started after the engine, stopped before it). */
  service?: Service
  log: ReturnType<typeof captureLogger>
}

export interface Service {
  start: () => Promise<void>
  stop: () => Promise<void>
}

/**
 * N broadcast engines in one process over a MemoryNetwork, each with its own real level database
 * in a temp dir, so nodes can be stopped and restarted on their data like real processes.
 */
export class EngineCluster {
  readonly net = new MemoryNetwork()
  readonly keys: NodeKey[]
  readonly nodes: Array<TestNode | undefined> = []
  readonly #opts: BroadcastOptions
  readonly #app: (index: number) => Application
  readonly #producer: { intervalMs: number, designatedFallbackMs: number } | undefined
  readonly #attach: ((node: TestNode) => Application & Service) | undefined
  #root = ''

  constructor (n: number, opts: { options?: Partial<BroadcastOptions>, app?: (index: number) => Application, attach?: (node: TestNode) => Application & Service, producer?: { intervalMs: number, designatedFallbackMs: number }, seed?: number } = {}) {
    this.#attach = opts.attach
    this.keys = Array.from({ length: n }, (_, i) => NodeKey.fromSeed(new Uint8Array(32).fill((opts.seed ?? 0x60) + i)))
    this.#opts = engineOptions(opts.options)
    this.#app = opts.app ?? (() => new DefaultApplication({ maxClockSkewMs: 300_000 }))
    this.#producer = opts.producer
  }

  get members (): Array<{ name: string, publicKey: Uint8Array, address: string }> {
    return this.keys.map((k, i) => ({ name: `node${i + 1}`, publicKey: k.publicKey, address: `/memory/${i}` }))
  }

  async start (): Promise<void> {
    this.#root = await mkdtemp(join(tmpdir(), 'ephemera-inproc-'))
    for (let i = 0; i < this.keys.length; i++) await this.startNode(i)
  }

  /**
   * Starts node i on its data (the same dir across restarts). `attach` builds an application
   * that needs the node itself (like the rewards service), started after the engine.
   */
  async startNode (i: number, attach?: (node: TestNode) => Application & Service): Promise<TestNode> {
    const key = this.keys[i] as NodeKey
    const dir = join(this.#root, `node${i + 1}`)
    const db = await Database.open(dir)
    const peer = this.net.peers.get(toHex(key.publicKey)) ?? this.net.join(key.publicKey)
    const log = captureLogger()
    const engine = await BroadcastEngine.create(this.#opts, { network: peer, gossip: peer, key, members: this.members, db, logger: log.logger })
    const node: TestNode = { index: i, name: `node${i + 1}`, key, dir, peer, engine, db, log }
    const service = (attach ?? this.#attach)?.(node)
    engine.setApplication(service ?? this.#app(i))
    await engine.start()
    await service?.start()
    node.service = service
    this.net.up(key.publicKey)
    if (this.#producer != null) {
      node.producer = new BlockProducer({ ...this.#producer, maxMessages: 500 }, { engine, logger: log.logger })
      node.producer.start()
    }
    this.nodes[i] = node
    return node
  }

  /** Stops node i (its data stays): off the network, engine stopped, database closed. */
  async stopNode (i: number): Promise<void> {
    const node = this.nodes[i]
    if (node == null) return
    this.nodes[i] = undefined
    this.net.down(node.key.publicKey)
    node.producer?.stop()
    await node.service?.stop()
    await node.engine.stop()
    await node.db.close()
  }

  async stop (): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) await this.stopNode(i)
    if (this.#root !== '') await rm(this.#root, { recursive: true, force: true })
  }

  node (i: number): TestNode {
    const node = this.nodes[i]
    if (node == null) throw new Error(`node${i + 1} is not running`)
    return node
  }
}

let counter = 0

/** A client message signed by `client` (unique per call). */
export function clientMessage (client: NodeKey, label = 'test', data?: string): ClientMessage {
  const body = { timestamp: Date.now(), label, data: new TextEncoder().encode(data ?? `m${counter++}`) }
  return { ...body, publicKey: client.publicKey, signature: client.sign(messageSigningBytes(body)) }
}
