import type { EpochCommittees } from './epoch-committees.js'
import { Bucket, jsonBytes, parseJsonBytes, type Database } from '../storage/index.js'
import { AbortError, errorMessage } from '../util/errors.js'
import type { Logger } from '../util/logger.js'
import { backoffDelay, sleep } from '../util/time.js'
import type { CoordinatorClient, EpochInfoJson } from './coordinator-client.js'

const TIMELINE_KEY = 'rewards-timeline'

/**
 * A node's view of its coordinator: the epoch info it announces (genesis, length, environment,
 * parameters), whether it answers, and whether it agrees with this node — the same committee, the
 * same number of mixnodes, and the same epoch timeline as when this node's data began (epoch
 * numbers are RBC rounds, so a coordinator reset needs the nodes' data cleared too).
 */
export class CoordinatorLink {
  readonly #m: { client: CoordinatorClient, db: Database, committees: EpochCommittees, mixnodes: number, mode: string, logger: Logger }
  #info: EpochInfoJson | undefined
  #problem: string | undefined
  #connected = false

  constructor (modules: { client: CoordinatorClient, db: Database, committees: EpochCommittees, mixnodes: number, mode: string, logger: Logger }) {
    this.#m = modules
  }

  /** The last epoch info the coordinator announced while it agreed with this node. */
  get info (): EpochInfoJson | undefined {
    return this.#info
  }

  /** Why this node and the coordinator disagree (epochs fail with it), if they do. */
  get problem (): string | undefined {
    return this.#problem
  }

  get connected (): boolean {
    return this.#connected
  }

  /** Reaches the coordinator, retrying with backoff until it answers; its epoch info. */
  async connect (signal: AbortSignal): Promise<EpochInfoJson> {
    const { client, logger } = this.#m
    for (let attempt = 0; ; attempt++) {
      try {
        const info = await client.epochInfo(signal)
        await this.#followCommittees(info, signal)
        await this.#check(info)
        this.#info = info
        this.#connected = true
        logger.info({ coordinator: client.baseUrl, epoch: info.epoch, epochMs: info.epochMs, environment: info.environment.name, threshold: info.parameters.rewardsThreshold, mode: this.#m.mode }, 'connected to coordinator')
        return info
      } catch (err) {
        if (signal.aborted) throw new AbortError()
        const delay = backoffDelay(attempt, 500, 10_000)
        if (attempt % 10 === 0) logger.warn({ coordinator: client.baseUrl, err: errorMessage(err), retryInMs: delay }, 'coordinator not reachable yet')
        await sleep(delay, signal)
      }
    }
  }

  /** Re-reads the coordinator's epoch info (it may have restarted or changed). */
  async refresh (signal: AbortSignal): Promise<void> {
    try {
      const info = await this.#m.client.epochInfo(signal)
      await this.#followCommittees(info, signal)
      await this.#check(info)
      if (this.#problem == null) this.#info = info
      this.#connected = true
    } catch {
      this.#connected = false
    }
  }

  /** The committees of the open and coming epochs, as the coordinator decided them (a network whose members change). */
  async #followCommittees (info: EpochInfoJson, signal: AbortSignal): Promise<void> {
    const { committees, client, logger } = this.#m
    if (await committees.update(await client.membership(signal))) {
      logger.info({ epoch: info.epoch, committee: committees.committee(info.epoch).members.length, next: committees.committee(info.epoch + 2).members.length }, 'committee view updated from the coordinator')
    }
  }

  async #check (info: EpochInfoJson): Promise<void> {
    const { committees, mixnodes, db, logger } = this.#m
    const problems: string[] = []
    const committee = committees.committee(info.epoch)
    if (info.committee.membershipId !== committee.membershipId) problems.push(`the coordinator's committee of epoch ${info.epoch} (${info.committee.membershipId.slice(0, 16)}…, ${info.committee.size} members) is not the one this node derives from its peers file and the coordinator's published changes (${committee.membershipId.slice(0, 16)}…)`)
    if (info.parameters.mixnodes !== mixnodes) problems.push(`the coordinator counts ${info.parameters.mixnodes} mixnodes, this node simulates ${mixnodes}`)
    const meta = db.bucket(Bucket.meta)
    const raw = await meta.get(TIMELINE_KEY)
    const timeline = raw == null ? undefined : parseJsonBytes<{ genesisMs: number, epochMs: number }>(raw)
    if (timeline == null) {
      await meta.put(TIMELINE_KEY, jsonBytes({ genesisMs: info.genesisMs, epochMs: info.epochMs }))
    } else if (timeline.genesisMs !== info.genesisMs || timeline.epochMs !== info.epochMs) {
      problems.push(`the coordinator's epochs (genesis ${new Date(info.genesisMs).toISOString()}, ${info.epochMs} ms) are not the ones this node's data was made with (genesis ${new Date(timeline.genesisMs).toISOString()}, ${timeline.epochMs} ms): the coordinator was reset; clear this node's data too (ephemera cluster clear)`)
    }
    const problem = problems.length > 0 ? problems.join('; ') : undefined
    if (problem != null && problem !== this.#problem) logger.error({ problem }, 'coordinator and node disagree: epochs fail until this is fixed')
    if (problem == null && this.#problem != null) logger.info('coordinator and node agree again')
    this.#problem = problem
  }
}
