import { HttpServer } from '../api/index.js'
import { registerHealthRoutes, type Readiness } from '../api/health.js'
import { registerMetricsRoute } from '../api/metrics-route.js'
import { registerDashboardRoutes } from '../dashboard/index.js'
import { ContractMetrics } from '../metrics/contract-metrics.js'
import { loadPeersFile, type ContractConfig } from '../config/index.js'
import { toHex } from '../codec/bytes.js'
import { verifySignature } from '../crypto/keys.js'
import { mixnodeSetId } from '../epochs/report.js'
import { Database } from '../storage/index.js'
import { ConfigError, errorMessage, type EphemeraError } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { registerContractRoutes } from './api.js'
import { COORDINATOR_API } from './api-docs.js'
import { Coordinator } from './coordinator.js'
import { environmentProblems, environmentWithEpoch } from '../epochs/environment.js'
import type { ParametersJson } from '../epochs/record.js'
import { committeeOf } from '../epochs/committee.js'
import { LevelCoordinatorStore } from './store.js'
import { ContractEvents, coordinatorHooks } from './events.js'
import { registerContractWsRoute } from './ws-api.js'
import { CrashPoints } from '../util/crash-points.js'
import type { MembershipRules } from './membership.js'

export function parametersOf (config: ContractConfig, committeeSize: number): ParametersJson {
  const f = Math.floor((committeeSize - 1) / 3)
  const r = config.rewards
  for (const [key, value] of [['rewards.rewards_threshold', r.rewards_threshold], ['rewards.min_values', r.min_values]] as const) {
    if (value > committeeSize) throw new ConfigError(`${config.config_file}: key "${key}": ${value} is more than the ${committeeSize} committee members, so no epoch could ever commit`)
  }
  return {
    mixnodes: r.mixnodes,
    mixnodeSetId: toHex(mixnodeSetId(r.mixnodes)),
    aggregation: r.aggregation,
    trimPermille: r.trim_permille,
    minValues: r.min_values === 0 ? f + 1 : r.min_values,
    rewardPool: r.reward_pool,
    rewardsThreshold: r.rewards_threshold === 0 ? committeeSize - f : r.rewards_threshold
  }
}

/** The living committee's rules from the config (the minimum size capped at the genesis committee's). */
export function membershipRules (config: ContractConfig, genesisSize: number): MembershipRules {
  const m = config.membership
  if (m.max_committee < genesisSize) throw new ConfigError(`${config.config_file}: key "membership.max_committee": ${m.max_committee} is less than the ${genesisSize} members of the genesis committee`)
  return {
    // never below what the parameters need: a smaller committee could not commit an epoch
    minCommittee: Math.max(Math.min(m.min_committee, genesisSize), config.rewards.rewards_threshold, config.rewards.min_values),
    maxCommittee: m.max_committee,
    dropAfterMissed: m.drop_after_missed,
    banAfterDrops: m.ban_after_drops,
    admission: { mode: m.admission, allowlist: m.allowlist, maxQueue: m.max_queue },
    maxBans: m.max_bans,
    maxDropRecords: 1024
  }
}

export interface ContractModules {
  logger: Logger
  clock?: () => number
  /**
   * Called once when the store fails (a write failed: disk full, I/O error), after the one fatal
   * log line; the CLI exits here (fail-stop). Without it the service stays up answering 503.
   */
  onFatal?: (err: EphemeraError) => void
}

/** Composition root of `ephemera contract run`: store → coordinator → HTTP API, and the update tick. */
export class ContractService {
  readonly coordinator: Coordinator
  readonly http: HttpServer
  readonly #db: Database
  readonly #logger: Logger

  private constructor (coordinator: Coordinator, http: HttpServer, db: Database, logger: Logger) {
    this.coordinator = coordinator
    this.http = http
    this.#db = db
    this.#logger = logger
    coordinator.start({ onError: (err) => { logger.warn({ err: errorMessage(err) }, 'coordinator update failed') }, paused: () => db.failure != null })
  }

  static async start (config: ContractConfig, modules: ContractModules): Promise<ContractService> {
    const clock = modules.clock ?? Date.now
    const committee = committeeOf(await loadPeersFile(config.peers_file))
    const environment = environmentWithEpoch(config.environment, config.epoch_ms, config.chunk_size)
    const problems = environmentProblems(environment, committee.members.length, config.rewards.mixnodes)
    if (problems.length > 0) throw new ConfigError(`${config.config_file}: environment "${environment.name}" cannot run this committee: ${problems.join('; ')}`)
    // Prometheus metrics (GET /metrics): the store reports its writes into them from the start
    const metrics = new ContractMetrics()
    const db = await Database.open(config.data_dir, {
      // fail-stop: one line naming the store and the cause, then the CLI exits (nothing more is answered)
      onFatal: (err) => {
        modules.logger.fatal({ code: err.code, store: err.details.path, cause: err.details.cause }, `coordinator stopped: ${err.message}`)
        modules.onFatal?.(err)
      },
      observer: metrics.storage
    })
    if (db.recoveryLosses.length > 0) {
      modules.logger.error({ store: db.path, dropped: db.recoveryLosses },
        `LevelDB dropped damaged parts of its log while opening ${db.path}: records written before the last stop may be missing (written by a version without fail-stop storage, or a disk fault). Compare with the nodes' official records, or restore ${config.data_dir} from a backup`)
    }
    try {
      // WS /contract/ws: committed epochs, committee changes, rollbacks, round events, evidence
      const events = new ContractEvents(modules.logger.child({ module: 'ws' }))
      const hooks = coordinatorHooks(events, () => coordinator.openRounds())
      const coordinator = new Coordinator(environment, {
        store: new LevelCoordinatorStore(db),
        clock,
        committee,
        parameters: parametersOf(config, committee.members.length),
        parametersFor: (size) => parametersOf(config, size),
        verify: verifySignature,
        allowStandalone: config.allow_standalone,
        membership: membershipRules(config, committee.members.length),
        ...(config.membership.admin_public_key != null ? { adminKey: config.membership.admin_public_key } : {}),
        onMembershipEvent: (event) => {
          metrics.committeeEvent(event)
          modules.logger.info({ kind: event.kind, detail: event.detail }, `committee: ${event.detail}`)
        },
        crash: new CrashPoints(process.env, modules.logger),
        onEvent: (epoch, event) => {
          // the audit trail: every round decision at info (a failed epoch at warn)
          metrics.roundEvent(event.kind)
          const level = event.kind === 'failed' ? 'warn' : 'info'
          modules.logger[level]({ epoch, kind: event.kind, detail: event.detail }, `epoch ${epoch}: ${event.kind}`)
          hooks.onEvent(epoch, event)
        },
        onCommitted: hooks.onCommitted,
        onEvidence: hooks.onEvidence
      })
      metrics.follow({
        epoch: () => coordinator.epochInfo(clock()).epoch,
        committeeSize: () => coordinator.committees.at(coordinator.epochInfo(clock()).epoch).committee.members.length
      })
      // genesis and epoch length are synced writes, done before anything is served
      const genesis = await coordinator.initialize()
      // a submission for 30,000 mixnodes carries ~2 MB of reward rows and reports
      const http = new HttpServer({ host: config.http.host, port: config.http.port, bodyLimit: 32 * 1024 * 1024, api: COORDINATOR_API }, modules.logger.child({ module: 'http' }))
      // once the store has failed nothing is answered, reads included: 503 ERR_STORAGE_FAILED
      http.app.addHook('onRequest', async () => { if (db.failure != null) throw db.failure })
      registerContractRoutes(http.app, coordinator, clock, verifySignature, modules.logger, (decision, outcome, code) => { metrics.decision(decision, outcome, code) })
      registerMetricsRoute(http.app, async () => await metrics.text())
      registerContractWsRoute(http.app, coordinator, events, clock, { maxClients: config.http.ws_max_clients, maxBufferedBytes: config.http.ws_max_buffered_bytes, maxReplay: config.http.ws_max_replay, logger: modules.logger.child({ module: 'ws' }) })
      registerDashboardRoutes(http.app)
      let service: ContractService | undefined
      registerHealthRoutes(http.app, () => service?.readiness() ?? { ready: false, reasons: ['the coordinator is starting'] })
      await http.start()
      const info = coordinator.epochInfo(clock())
      modules.logger.info({ url: http.url, environment: environment.name, epochMs: environment.epochMs, genesis: new Date(genesis).toISOString(), epoch: info.epoch, committee: committee.members.length, mixnodes: config.rewards.mixnodes }, 'coordinator started')
      service = new ContractService(coordinator, http, db, modules.logger)
      return service
    } catch (err) {
      await db.close()
      throw err
    }
  }

  #stopping = false

  /** Ready unless it is stopping or its storage failed (then it answers nothing but 503 anyway). */
  readiness (): Readiness {
    const reasons = [
      ...(this.#stopping ? ['the coordinator is stopping'] : []),
      ...(this.#db.failure != null ? [`storage failed: ${this.#db.failure.message}`] : [])
    ]
    return { ready: reasons.length === 0, reasons }
  }

  async close (): Promise<void> {
    this.#stopping = true
    await this.http.stop()
    await this.coordinator.stop()
    await this.#db.close()
    this.#logger.info('coordinator stopped')
  }
}
