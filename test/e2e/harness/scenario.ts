import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Cluster, type ClusterOptions } from './cluster.js'
import type { Checker, RunContext } from './context.js'
import { FaultLedger } from './ledger.js'
import { Monitor } from './monitor.js'
import type { ResultRow } from './results.js'
import { CatchUpChecker } from './invariants/catchup.js'
import { CertificatesChecker } from './invariants/certificates.js'
import { LivenessChecker, type LivenessOptions } from './invariants/liveness.js'
import { LogRateChecker } from './invariants/logs.js'
import { RecordsChecker } from './invariants/records.js'
import { RssChecker, type RssBounds } from './invariants/rss.js'
import { OwnVotesChecker } from './invariants/votes.js'
import { sleepUntil, waitUntil } from './wait.js'
import { RESULTS_DIR } from './paths.js'

/**
 * Declarative scenarios: a cluster, a timeline of faults (`{ at: { epoch: 4 }, do: kill('node2') }`)
 * and the invariants to check while and after it runs. `runScenario` starts the cluster, arms the
 * deterministic crash points, runs the steps in order, runs the checkers all along and once more
 * at the end, and always tears everything down.
 */

export type Trigger =
  /** The start of the scenario's epoch k (relative to its epoch 0), plus `at` × epoch length. */
  | { epoch: number, at?: number }
  /** This long after the previous step finished. */
  | { afterMs: number }
  /** The start of the k-th epoch after the previous step finished, plus `at` × epoch length. */
  | { afterEpochs: number, at?: number }
  /** As soon as a condition holds. */
  | { when: (run: ScenarioRun) => Promise<boolean>, what: string, timeoutMs: number }

export interface Action {
  label: string
  run: (run: ScenarioRun) => Promise<void>
  /** A crash point to arm in `target`'s environment at start: `point@(epoch 0 + step epoch)`. */
  arm?: { target: string, point: string }
}

export interface Step {
  at?: Trigger
  do: Action
  /**
   * First wait until the cluster has settled: every process up, every returned node caught up,
   * and (rewards) a fresh epoch committed since the last fault ended. Keeps a timeline's faults
   * from piling up when restarts are slow (a loaded machine).
   */
  settle?: boolean
}

export interface InvariantOptions {
  /** Coordinator records and nodes' official copies (default: on for rewards). */
  records?: boolean
  /** Certificates, agreement, reports, stable local heights (default on). */
  certificates?: boolean
  /** Own persisted votes via /ephemera/broadcast/votes (default on; skipped on 404). */
  votes?: boolean
  liveness?: LivenessOptions
  /** Bound on catching up after a node returns (default 40 s). */
  catchUpWithinMs?: number
  rss?: RssBounds
  /** Warn lines per minute per honest node (off unless set). */
  warnPerMinute?: number
}

export interface ScenarioSpec {
  name: string
  n: number
  /** The "faults" column. */
  faults: string
  cluster: Omit<ClusterOptions, 'label' | 'n'>
  steps: Step[]
  /** Epochs to keep running after the last step (rewards; default 3). */
  tailEpochs?: number
  invariants: InvariantOptions
  byzantine?: string[]
  equivocators?: string[]
  /** Before any process starts (e.g. mount a tmpfs). */
  setup?: (run: ScenarioRun) => Promise<void>
  /** Always, after the processes are gone (e.g. umount). */
  cleanup?: (run: ScenarioRun) => Promise<void>
  /** How long the cluster may take to start, for arming crash points ahead (default 20 s + 3 s per node). */
  startupBudgetMs?: number
}

export class SkipScenario extends Error {}

export interface ScenarioRun extends RunContext {
  readonly spec: ScenarioSpec
  readonly monitor: Monitor
  readonly records: RecordsChecker | undefined
  readonly certificates: CertificatesChecker | undefined
  readonly rss: RssChecker | undefined
  readonly catchUp: CatchUpChecker
  readonly logRate: LogRateChecker | undefined
  /** Crash points still armed per process: `point@epoch`. */
  readonly armed: Map<string, string[]>
  /** The scenario's epoch k as an absolute epoch number. */
  epoch: (k: number) => number
  /** Ends the scenario as skipped (e.g. mounting a tmpfs is not permitted here). */
  skip: (reason: string) => never
}

export interface ScenarioResult {
  row: ResultRow
  violations: string[]
  skipped?: string
  notes: string[]
}

export async function runScenario (spec: ScenarioSpec, budgetMs = 10 * 60_000): Promise<ScenarioResult> {
  const began = Date.now()
  const label = `${spec.name}-n${spec.n}`
  rmSync(join(RESULTS_DIR, 'logs', label), { recursive: true, force: true })
  const cluster = await Cluster.create({ ...spec.cluster, label, n: spec.n })
  const ledger = new FaultLedger(cluster.f)
  const violations: string[] = []
  const notes: string[] = []
  const controller = new AbortController()
  const inv = spec.invariants
  const rewards = spec.cluster.app === 'rewards'
  const records = rewards && inv.records !== false ? new RecordsChecker() : undefined
  const certificates = inv.certificates !== false ? new CertificatesChecker() : undefined
  const rss = inv.rss != null ? new RssChecker(inv.rss) : undefined
  const logRate = inv.warnPerMinute != null ? new LogRateChecker(inv.warnPerMinute) : undefined
  const catchUp = new CatchUpChecker(inv.catchUpWithinMs ?? 40_000, records)
  const monitor = new Monitor()
  const checkers: Checker[] = [records, certificates, inv.votes !== false ? new OwnVotesChecker() : undefined, rss, catchUp,
    records != null && inv.liveness != null ? new LivenessChecker(records, inv.liveness) : undefined, logRate].filter((c): c is NonNullable<typeof c> => c != null)
  monitor.add(...checkers)
  let skipped: string | undefined

  const run: ScenarioRun = {
    spec,
    cluster,
    ledger,
    base: 0,
    startedAt: Date.now(),
    byzantine: new Set(spec.byzantine ?? []),
    equivocators: new Set(spec.equivocators ?? []),
    data: {},
    signal: controller.signal,
    monitor,
    records,
    certificates,
    rss,
    catchUp,
    logRate,
    armed: new Map(),
    violation: (checker, message) => {
      const line = `${checker}: ${message}`
      if (!violations.includes(line)) violations.push(line)
    },
    note: (message) => { notes.push(message) },
    epoch: (k) => run.base + k,
    skip: (reason) => { throw new SkipScenario(reason) }
  }

  // the run's own deadline, inside the test's: past it, whatever is still waiting is abandoned
  // and everything is torn down (a timed-out test must not leave a cluster running behind it)
  let budgetTimer: NodeJS.Timeout | undefined
  const overBudget = new Promise<void>((resolve) => {
    budgetTimer = setTimeout(() => {
      run.violation('timeline', `the scenario ran over its time budget of ${Math.round(budgetMs / 1000)} s and was stopped`)
      resolve()
    }, budgetMs)
  })
  const body = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await spec.setup?.(run)
        await startCluster(run)
        break
      } catch (err) {
        // another process took one of the ports between the check and the start: new ports
        if (attempt >= 3 || !/already in use/.test((err as Error).message)) throw err
        notes.push(`start-up attempt ${attempt} hit a port taken meanwhile (${(err as Error).message.slice(0, 120)}); retrying on new ports`)
        for (const p of run.cluster.all()) p.forceKill()
        await spec.cleanup?.(run)
        await run.cluster.destroy()
        run.cluster = await Cluster.create({ ...spec.cluster, label, n: spec.n })
      }
    }
    run.startedAt = Date.now()
    ledger.log('timeline starts')
    monitor.start(run)
    let stepIndex = 0
    try {
      for (const step of spec.steps) {
        stepIndex++
        if (step.settle === true) await waitSettled(run)
        await waitForTrigger(run, step.at)
        ledger.log(`step ${stepIndex}: ${step.do.label}`)
        await step.do.run(run)
      }
    } catch (err) {
      if (err instanceof SkipScenario) throw err
      run.violation('timeline', `step ${stepIndex} (${spec.steps[stepIndex - 1]?.do.label ?? '?'}) failed: ${(err as Error).message}`)
    }
    if (rewards) {
      const tail = spec.tailEpochs ?? 3
      await sleepUntil(run.cluster.epochStart(run.cluster.epochAt() + tail), controller.signal)
    }
    run.endedAt = Date.now()
    await monitor.finish(run)
    for (const [name, e] of monitor.pollErrors) notes.push(`${name}: ${e.count} poll(s) failed (last: ${e.last})`)
    if (records != null && records.listFailures > 0) notes.push(`records: the coordinator's epoch list did not answer ${records.listFailures} time(s)`)
  }
  try {
    const running = body()
    running.catch(() => {}) // if the budget wins, a late failure of the abandoned body is moot
    await Promise.race([running, overBudget])
  } catch (err) {
    if (err instanceof SkipScenario) skipped = err.message
    else run.violation('harness', (err as Error).stack ?? String(err))
  } finally {
    clearTimeout(budgetTimer)
    controller.abort()
    await monitor.stop()
    for (const p of run.cluster.all()) p.forceKill()
    try {
      await spec.cleanup?.(run)
    } catch (err) {
      run.violation('harness', `cleanup failed: ${(err as Error).message}`)
    }
    await run.cluster.destroy({ keepLogs: violations.length > 0 }).catch((err: unknown) => { notes.push(`could not delete ${run.cluster.dir}: ${(err as Error).message}`) })
    if (violations.length > 0) writeTimeline(run, violations, notes)
  }

  const committed = records != null
    ? `${records.committed(run).length}`
    : `${Math.max(0, ...run.cluster.names.map((n) => certificates?.maxHeight(n) ?? 0))} blocks`
  const invariants = monitor.checkers.map((c) => `${c.name}: ${c.summary()}`).join('; ')
  if (violations.length > 0) notes.push(`logs kept in test/e2e/results/logs/${label}/`)
  const row: ResultRow = {
    scenario: spec.name,
    n: spec.n,
    faults: spec.faults,
    committed,
    invariants,
    result: skipped != null ? 'SKIP' : violations.length > 0 ? 'FAIL' : 'PASS',
    details: skipped != null ? [skipped] : violations,
    durationS: Math.round((Date.now() - began) / 1000),
    notes
  }
  return { row, violations, skipped, notes }
}

/** Starts the coordinator and the nodes, with crash points armed ahead of the timeline. */
async function startCluster (run: ScenarioRun): Promise<void> {
  const { cluster, spec } = run
  const arms = spec.steps.filter((s) => s.do.arm != null)
  for (const s of arms) {
    if (s.at == null || !('epoch' in s.at)) throw new Error(`${s.do.label}: a crash point needs an { epoch } trigger`)
  }
  if (spec.cluster.app === 'messages') {
    await cluster.startAll()
    run.base = 0
    return
  }
  const budget = spec.startupBudgetMs ?? 20_000 + 3_000 * spec.n
  const arm = (base: number): void => {
    run.armed.clear()
    for (const s of arms) {
      const k = (s.at as { epoch: number }).epoch
      const { target, point } = s.do.arm!
      run.armed.set(target, [...(run.armed.get(target) ?? []), `${point}@${base + k}`])
    }
  }
  const envFor = (name: string): Record<string, string> | undefined => {
    const points = run.armed.get(name)
    return points == null ? undefined : { EPHEMERA_TEST_CRASH_AT: points.join(',') }
  }
  if (arms.length === 0) {
    await cluster.startAll()
    run.base = cluster.epochAt() + 1
  } else {
    // a fresh coordinator's genesis is the next whole second: epoch 1 starts now, so epoch 0 of
    // the timeline can be placed after the start-up budget before anything runs
    run.base = 1 + Math.ceil((budget + 2_000) / cluster.epochMs)
    arm(run.base)
    await cluster.startAll({ envFor })
    if (cluster.epochAt() >= run.base - 1) {
      // start-up overran the budget (a loaded machine): move the timeline and re-arm
      const late = cluster.epochAt()
      run.base = late + 3
      arm(run.base)
      run.note(`start-up took until epoch ${late}, past the budget: crash points re-armed for epoch 0 = ${run.base}`)
      for (const target of new Set(arms.map((s) => s.do.arm!.target))) {
        const p = cluster.process(target)
        await p.stop()
        if (target === 'coordinator') await cluster.startCoordinator({ env: envFor(target) })
        else await cluster.startNode(target, { env: envFor(target) })
      }
      await cluster.waitMesh()
    }
  }
  await sleepUntil(cluster.epochStart(run.base), run.signal)
}

/** See Step.settle. */
export async function waitSettled (run: ScenarioRun, timeoutMs = 90_000): Promise<void> {
  const c = run.cluster
  const since = Date.now()
  await waitUntil(async () => {
    if (c.all().some((p) => !run.byzantine.has(p.name) && (!p.running || p.paused))) return false
    if (run.catchUp.pending > 0) return false
    if (run.records != null) {
      // (members Byzantine by design stay so: they do not hold settling up)
      const lastFault = Math.max(run.startedAt, ...run.ledger.intervals.filter((i) => i.kind !== 'byzantine' && !run.byzantine.has(i.who)).map((i) => i.to ?? Infinity))
      if (!Number.isFinite(lastFault)) return false
      return [...run.records.seen.values()].some((r) => r.startMs >= lastFault)
    }
    return true
  }, { timeoutMs, intervalMs: 250, what: 'the cluster to settle (every process up, caught up, a fresh epoch committed)', signal: run.signal })
  run.ledger.log(`settled after ${((Date.now() - since) / 1000).toFixed(1)} s`)
}

async function waitForTrigger (run: ScenarioRun, at: Trigger | undefined): Promise<void> {
  if (at == null) return
  const c = run.cluster
  if ('epoch' in at) {
    await sleepUntil(c.epochStart(run.epoch(at.epoch)) + Math.round((at.at ?? 0) * c.epochMs), run.signal)
  } else if ('afterMs' in at) {
    await sleepUntil(Date.now() + at.afterMs, run.signal)
  } else if ('afterEpochs' in at) {
    await sleepUntil(c.epochStart(c.epochAt() + at.afterEpochs) + Math.round((at.at ?? 0) * c.epochMs), run.signal)
  } else {
    await waitUntil(async () => await at.when(run), { timeoutMs: at.timeoutMs, intervalMs: 250, what: at.what, signal: run.signal })
  }
}

/** Crash points of `name` still ahead (epoch ≥ the current one), for a restart. */
export function remainingCrashEnv (run: ScenarioRun, name: string): Record<string, string> | undefined {
  const now = run.cluster.clock == null ? 0 : run.cluster.epochAt()
  const left = (run.armed.get(name) ?? []).filter((p) => Number(p.split('@')[1]) >= now)
  run.armed.set(name, left)
  return left.length === 0 ? undefined : { EPHEMERA_TEST_CRASH_AT: left.join(',') }
}

/** For a failed scenario: the fault timeline (times relative to the start, with epochs), next to its logs. */
function writeTimeline (run: ScenarioRun, violations: string[], notes: string[]): void {
  const c = run.cluster
  const at = (t: number): string => `+${((t - run.startedAt) / 1000).toFixed(1).padStart(6)} s${c.clock != null ? ` (epoch ${c.epochAt(t)}, k=${c.epochAt(t) - run.base})` : ''}`
  const lines = [
    `scenario ${run.spec.name} N=${run.spec.n}, dir ${c.dir}, epoch 0 = ${run.base}`,
    '',
    ...run.ledger.events.map((e) => `${at(e.t)}  ${e.text}`),
    '',
    'violations:',
    ...violations.map((v) => `  ${v}`),
    '',
    'notes:',
    ...notes.map((n) => `  ${n}`)
  ]
  try {
    writeFileSync(join(RESULTS_DIR, 'logs', `${run.spec.name}-n${run.spec.n}`, 'timeline.txt'), lines.join('\n') + '\n')
  } catch {}
}
