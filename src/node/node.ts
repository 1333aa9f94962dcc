import { HttpServer, NODE_API, registerBroadcastRoutes, registerNodeRoutes, registerRewardsRoutes, registerWsRoutes, type NodeHealth } from '../api/index.js'
import { BlockProducer, BroadcastEngine, DefaultApplication, type Application } from '../broadcast/index.js'
import { CoordinatorClient } from '../rewards/coordinator-client.js'
import { RewardsService } from '../rewards/service.js'
import { detectedEvidence, equivocationEvidence } from '../rewards/evidence-submitter.js'
import { NodeEvents } from '../api/node-events.js'
import { dialableAddresses, isUnspecified, loadPeersFile, type NodeConfig } from '../config/index.js'
import { publicKeyFromPeerId, readKeyFile, type NodeKey } from '../crypto/keys.js'
import { Libp2pGossip, Libp2pPeerNetwork, Membership, Network } from '../network/index.js'
import { Database, NodeMetaStore } from '../storage/index.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { CrashPoints } from '../util/crash-points.js'
import { EpochCommittees } from '../rewards/epoch-committees.js'
import { committeeOf } from '../epochs/committee.js'
import { toHex } from '../codec/bytes.js'
import { buildInfo } from '../util/version.js'
import { peerIdOf } from '../block/json.js'
import type { Readiness } from '../api/health.js'
import { registerMetricsRoute } from '../api/metrics-route.js'
import { NodeMetrics } from '../metrics/node-metrics.js'
import { dashboardUrl, registerNodeHome } from '../dashboard/index.js'

export interface NodeModules {
  logger: Logger
  /** The application plugged into reliable broadcast (default: DefaultApplication). */
  app?: Application
  /** Injected for tests; defaults to the wall clock. */
  now?: () => Date
  /**
   * Called once when the database fails (a write failed: disk full, I/O error), after the one
   * fatal log line; the CLI exits here (fail-stop). Without it the node stays up answering 503.
   */
  onFatal?: (err: EphemeraError) => void
}

interface Stoppable {
  name: string
  stop: () => Promise<void>
}

/**
 * Composition root of one node: key → membership → database → network → HTTP API, started in
 * that order and stopped in reverse. `init` returns a running node; if any part fails to start,
 * the parts already started are stopped before the error is rethrown.
 */
export class EphemeraNode {
  readonly config: NodeConfig
  readonly key: NodeKey
  readonly membership: Membership
  readonly network: Network
  readonly broadcast: BroadcastEngine
  readonly rewards: RewardsService | undefined
  readonly http: HttpServer
  readonly startedAt: Date
  readonly db: Database
  readonly #logger: Logger
  readonly #now: () => Date
  readonly #stack: Stoppable[]
  /** Milliseconds each part took to start, and `process`: from the process's start to serving. */
  readonly startupMs: Readonly<Record<string, number>>
  #status: 'running' | 'stopping' | 'stopped' = 'running'

  private constructor (parts: { config: NodeConfig, key: NodeKey, membership: Membership, db: Database, network: Network, broadcast: BroadcastEngine, rewards: RewardsService | undefined, http: HttpServer, stack: Stoppable[], startupMs: Record<string, number> }, modules: NodeModules) {
    this.config = parts.config
    this.key = parts.key
    this.membership = parts.membership
    this.db = parts.db
    this.network = parts.network
    this.broadcast = parts.broadcast
    this.rewards = parts.rewards
    this.http = parts.http
    this.#stack = parts.stack
    this.startupMs = parts.startupMs
    this.#logger = modules.logger
    this.#now = modules.now ?? (() => new Date())
    this.startedAt = this.#now()
  }

  static async init (config: NodeConfig, modules: NodeModules): Promise<EphemeraNode> {
    const logger = modules.logger
    const now = modules.now ?? (() => new Date())
    const key = await readKeyFile(config.key_file)
    const genesis = await loadPeersFile(config.peers_file)
    // a rewards node outside the peers file (the genesis committee) joins through the coordinator's queue
    const dialable = dialableAddresses(config)
    const self = { name: config.name, peerId: key.peerId.toString(), address: dialable[0] as string }
    const membership = new Membership(genesis, key.peerId.toString(), config.app === 'rewards' ? self : undefined)
    if (membership.selfInGenesis && ![config.p2p.listen, ...config.p2p.announce].includes(membership.self.address)) {
      logger.warn({ listen: config.p2p.listen, announce: config.p2p.announce, peersFileAddress: membership.self.address },
        'this node\'s address in the peers file is neither p2p.listen nor in p2p.announce; other members dial the peers-file address')
    }
    if (config.app === 'rewards' && isUnspecified(self.address)) {
      logger.warn({ listen: config.p2p.listen }, 'p2p.listen is an unspecified address and p2p.announce is empty: joining the committee would register an address nobody can dial; set p2p.announce')
    }
    const stack: Stoppable[] = []
    // how long each part took to start (its state loaded from disk included), for operators and the soak
    const startupMs: Record<string, number> = {}
    let mark = performance.now()
    const started = (part: Stoppable): void => {
      const now = performance.now()
      startupMs[part.name] = Math.round(now - mark)
      mark = now
      stack.push(part)
    }
    const stopAll = async (): Promise<void> => {
      for (const part of stack.splice(0).reverse()) {
        try {
          await part.stop()
        } catch (err) {
          logger.warn({ part: part.name, err: errorMessage(err) }, 'error while stopping')
        }
      }
    }
    try {
      // Prometheus metrics (GET /metrics): the database and the libp2p host report into them as they run
      const metrics = new NodeMetrics()
      const db = await Database.open(config.data_dir, {
        // fail-stop: one line naming the store and the cause, then the CLI exits (nothing more is signed or answered)
        onFatal: (err) => {
          logger.fatal({ code: err.code, store: err.details.path, cause: err.details.cause }, `node stopped: ${err.message}`)
          modules.onFatal?.(err)
        },
        observer: metrics.storage
      })
      started({ name: 'database', stop: async () => { await db.close() } })
      if (db.recoveryLosses.length > 0) {
        logger.error({ store: db.path, dropped: db.recoveryLosses },
          `LevelDB dropped damaged parts of its log while opening ${db.path}: blocks, votes or records written before the last stop may be missing (written by a version without fail-stop storage, or a disk fault); sync re-fetches certified blocks from the other members`)
      }
      const metaStore = new NodeMetaStore(db)
      const previous = await metaStore.get()
      if (previous != null && previous.peerId !== key.peerId.toString()) {
        throw new EphemeraError(ErrorCode.KEY_INVALID,
          `data_dir ${config.data_dir} belongs to PeerId ${previous.peerId}, but key_file ${config.key_file} is ${key.peerId.toString()}; use the matching key or a fresh data_dir`)
      }
      const meta = await metaStore.recordStart(key.peerId.toString(), now())
      logger.info({ dataDir: config.data_dir, starts: meta.starts }, 'database open')

      // rewards: the committee of each epoch follows the coordinator (the peers file is the genesis
      // committee); the gater lets in the registered validators, the engine votes per epoch's committee
      // WS /ephemera/broadcast/ws: epoch, committee and evidence frames besides the blocks
      const events = new NodeEvents(logger.child({ module: 'ws' }))
      let committees: EpochCommittees | undefined
      if (config.app === 'rewards' && modules.app == null) {
        committees = new EpochCommittees(committeeOf(genesis), { name: config.name, peerId: self.peerId, publicKey: toHex(key.publicKey), multiaddrs: dialable.map((a) => `${a}/p2p/${self.peerId}`) }, db)
        await committees.load()
        const follow = committees
        membership.setMembers(follow.registered())
        follow.onChange(() => { membership.setMembers(follow.registered()) })
        follow.onLearned((change) => { events.committeeLearned(change) })
      }

      const network = await Network.create({
        listen: config.p2p.listen,
        initialBackoffMs: config.p2p.dial_backoff_initial_ms,
        maxBackoffMs: config.p2p.dial_backoff_max_ms,
        dialTimeoutMs: config.p2p.dial_timeout_ms,
        gossipHeartbeatMs: config.p2p.gossip_heartbeat_ms,
        pingIntervalMs: config.p2p.ping_interval_ms,
        faultPartitionFile: config.p2p.fault_partition_file
      }, { key, membership, logger: logger.child({ module: 'network' }), metricsRegistry: metrics.registry })
      await network.start()
      // request streams kept open between exchanges are closed with the host
      const peers = new Libp2pPeerNetwork(network.libp2p, key.publicKey)
      started({ name: 'network', stop: async () => { peers.close(); await network.stop() } })

      const b = config.broadcast
      const gossip = new Libp2pGossip(network.libp2p, logger.child({ module: 'gossip' }))
      const broadcast = await BroadcastEngine.create({
        mempool: { maxMessages: config.mempool.max_messages, maxBytes: config.mempool.max_bytes, maxAgeMs: config.mempool.max_age_ms },
        transport: {
          retransmitInitialMs: b.retransmit_initial_ms,
          retransmitMaxMs: b.retransmit_max_ms,
          maxAgeMs: b.retransmit_max_age_ms,
          maxMessages: b.max_queue_messages_per_peer,
          maxBytes: b.max_queue_bytes_per_peer,
          requestTimeoutMs: b.request_timeout_ms,
          peerBytesPerSecond: b.peer_rate_bytes_per_s,
          peerMessagesPerSecond: b.peer_rate_messages_per_s
        },
        syncIntervalMs: b.sync_interval_ms,
        fetchDeadlineMs: b.retransmit_max_age_ms,
        limits: {
          maxOpenInstancesPerCreator: b.max_open_instances_per_creator,
          maxOpenBytesPerCreator: b.max_open_bytes_per_creator,
          maxOrphansPerCreator: b.max_orphans_per_creator,
          decidedWindow: b.decided_window_rounds
        },
        maxEvidence: b.max_evidence
      }, {
        network: peers,
        gossip,
        key,
        members: genesis.map((m) => ({ name: m.name, publicKey: publicKeyFromPeerId(m.peerId), address: m.address })),
        ...(committees != null ? { committees } : {}),
        db,
        logger: logger.child({ module: 'broadcast' })
      })
      // and what is read from the parts when scraped
      metrics.follow({
        rbc: () => {
          const s = broadcast.stats()
          return { ...s.transport, openInstances: s.openInstances, delivered: s.delivered, equivocations: s.equivocations }
        },
        peers: () => {
          const group = network.groupInfo()
          return { connected: group.connected, refused: group.refusedNonMembers.refused }
        },
        storageFailed: () => db.failure != null
      })
      let rewards: RewardsService | undefined
      if (modules.app != null) {
        broadcast.setApplication(modules.app)
      } else if (config.app === 'rewards') {
        if (config.coordinator_url == null || committees == null) throw new EphemeraError(ErrorCode.CONFIG_INVALID, `${config.config_file}: key "coordinator_url": required when app = "rewards"`)
        const r = config.rewards
        rewards = new RewardsService({
          propose: b.produce_blocks,
          mixnodes: r.mixnodes,
          simulator: { networkSeed: r.network_seed, flappingPermille: r.flapping_permille, noise: r.noise },
          fault: r.fault,
          standalone: r.standalone,
          keepEpochs: r.keep_epochs,
          autoJoin: r.auto_join,
          name: config.name
        }, {
          engine: broadcast,
          network: peers,
          gossip,
          key,
          members: broadcast.members,
          committees,
          db,
          client: new CoordinatorClient(config.coordinator_url, key),
          logger: logger.child({ module: 'rewards' }),
          crash: new CrashPoints(process.env, logger),
          observe: (p) => { metrics.observeEpoch(p) },
          onAdopted: (record) => { events.epochAdopted(record) },
          onEvidence: (e) => { events.evidence(e) }
        })
        broadcast.setApplication(rewards)
      } else {
        broadcast.setApplication(new DefaultApplication({ maxClockSkewMs: config.mempool.max_clock_skew_ms }))
      }
      // without the rewards application (which sends it on), RBC equivocation evidence is only seen
      if (rewards == null) {
        broadcast.onEquivocation((e) => {
          const checked = detectedEvidence(equivocationEvidence(e))
          if (checked.ok) events.evidence(checked.event)
        })
      }
      await broadcast.start()
      started({ name: 'broadcast', stop: async () => { await broadcast.stop() } })
      if (rewards != null) {
        const service = rewards
        await service.start()
        started({ name: 'rewards', stop: async () => { await service.stop() } })
      }
      // the generic producer serves client messages; the rewards application proposes its own blocks
      if (b.produce_blocks && config.app === 'messages' && modules.app == null) {
        const producer = new BlockProducer({ intervalMs: b.block_interval_ms, maxMessages: b.max_messages_per_block, designatedFallbackMs: b.designated_fallback_ms },
          { engine: broadcast, logger: logger.child({ module: 'producer' }) })
        producer.start()
        started({ name: 'producer', stop: async () => { producer.stop() } })
      }

      const http = new HttpServer({ host: config.http.host, port: config.http.port, api: NODE_API }, logger.child({ module: 'http' }))
      // once the database has failed nothing is answered: 503 ERR_STORAGE_FAILED
      http.app.addHook('onRequest', async () => { if (db.failure != null) throw db.failure })
      const node = new EphemeraNode({ config, key, membership, db, network, broadcast, rewards, http, stack, startupMs }, modules)
      registerNodeRoutes(http.app, {
        health: () => node.health(),
        readiness: () => node.readiness(),
        publicConfig: () => node.publicConfig(),
        groupInfo: () => network.groupInfo(),
        connections: () => network.connections()
      })
      registerBroadcastRoutes(http.app, broadcast)
      registerMetricsRoute(http.app, async () => await metrics.text())
      registerNodeHome(http.app, { name: config.name, dashboard: dashboardUrl(config.coordinator_url) })
      registerWsRoutes(http.app, { delivered: broadcast, blocks: broadcast.store, events }, { maxClients: config.http.ws_max_clients, maxBufferedBytes: config.http.ws_max_buffered_bytes, maxReplay: config.http.ws_max_replay, logger: logger.child({ module: 'ws' }) })
      if (rewards != null) registerRewardsRoutes(http.app, rewards)
      await http.start()
      started({ name: 'http', stop: async () => { await http.stop() } })
      startupMs.process = Math.round(process.uptime() * 1000)
      logger.info({ peerId: key.peerId.toString(), http: http.url, members: membership.size, quorum: membership.quorum, startupMs }, 'node started')
      return node
    } catch (err) {
      await stopAll()
      throw err
    }
  }

  health (): NodeHealth {
    const group = this.network.groupInfo()
    return {
      status: this.#status === 'running' ? 'ok' : 'stopping',
      name: this.config.name,
      peerId: this.key.peerId.toString(),
      pid: process.pid,
      uptimeSeconds: Math.round((this.#now().getTime() - this.startedAt.getTime()) / 1000),
      startedAt: this.startedAt.toISOString(),
      connectedMembers: group.members.filter((m) => !m.self && m.connected).length,
      members: group.size,
      startupMs: this.startupMs,
      build: buildInfo(),
      dashboard: dashboardUrl(this.config.coordinator_url)
    }
  }

  /**
   * Ready when running, storage works, and (rewards) the coordinator answers and a quorum of the
   * current epoch's committee is reachable (connected members and this node); otherwise 503 with
   * every reason.
   */
  readiness (): Readiness {
    const reasons: string[] = []
    if (this.#status !== 'running') reasons.push(`the node is ${this.#status}`)
    const failure = this.db.failure
    if (failure != null) reasons.push(`storage failed: ${failure.message}`)
    const connected = new Set(this.network.connections().map((c) => c.peerId))
    const rewards = this.rewards?.status()
    if (rewards != null && !rewards.connected) reasons.push(`not connected to the coordinator at ${rewards.coordinator}${rewards.problem != null ? ` (${rewards.problem})` : ''}`)
    const committee = this.broadcast.committeeAt(rewards?.epoch ?? 1)
    const self = this.key.peerId.toString()
    const reachable = committee.members.filter((m) => { const id = peerIdOf(m.publicKey); return id === self || connected.has(id) }).length
    if (reachable < committee.q) reasons.push(`${reachable} of the committee's ${committee.n} members reachable (this node included), a quorum is ${committee.q}`)
    return { ready: reasons.length === 0, reasons }
  }

  /** The effective configuration plus derived facts; the key itself never appears. */
  publicConfig (): Record<string, unknown> {
    return {
      ...this.config,
      peerId: this.key.peerId.toString(),
      listenAddresses: this.network.libp2p.getMultiaddrs().map(String),
      httpUrl: this.http.url
    }
  }

  /** Stops everything in reverse start order. Idempotent. */
  async close (): Promise<void> {
    if (this.#status !== 'running') return
    this.#status = 'stopping'
    this.#logger.info('stopping node')
    for (const part of this.#stack.splice(0).reverse()) {
      try {
        await part.stop()
        this.#logger.info({ part: part.name }, 'stopped')
      } catch (err) {
        this.#logger.warn({ part: part.name, err: errorMessage(err) }, 'error while stopping')
      }
    }
    this.#status = 'stopped'
    this.#logger.info('node stopped')
  }
}
