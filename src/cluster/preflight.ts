import { EphemeraError, ErrorCode } from '../util/errors.js'
import { assertEpochLengthMatches } from './epoch-check.js'
import type { ClusterPlan } from './plan.js'
import { assertPortsFree } from './ports.js'
import { runningClusterProcesses } from './running.js'

/**
 * What `cluster up` checks before it starts anything, so that a start that cannot work fails at
 * once with the reason, instead of spawning processes that die (or, worse, reporting a mesh that
 * another cluster's processes form).
 */

/**
 * Refuses when a process of DIR runs that `cluster up` did not record and so cannot adopt: another
 * `cluster up` for DIR, or a node or coordinator started by hand with one of DIR's config files.
 * `adopted`: the pids of recorded processes that run and will be adopted.
 */
export async function checkForeignProcesses (dir: string, dirOption: string, adopted: ReadonlySet<number>): Promise<void> {
  const others = (await runningClusterProcesses(dir)).filter((p) => !p.recorded && !adopted.has(p.pid))
  if (others.length === 0) return
  const supervisors = others.filter((p) => p.what === 'cluster up')
  if (supervisors.length > 0) {
    throw new EphemeraError(ErrorCode.CLUSTER, `another \`ephemera cluster up\` for ${dir} is running (pid ${supervisors.map((p) => p.pid).join(', ')}); wait for it, or stop it (Ctrl-C there, or \`ephemera cluster down --dir ${dirOption}\`)`)
  }
  throw new EphemeraError(ErrorCode.CLUSTER,
    `processes of ${dir} run that \`cluster up\` did not start (${others.map((p) => `pid ${p.pid}: ${p.command ?? p.what}`).join('; ')}); stop them first (\`kill ${others.map((p) => p.pid).join(' ')}\`), since they hold this cluster's data and ports; nothing was started`,
    { pids: others.map((p) => p.pid) })
}

/**
 * With DIR planned: every port a process to start will listen on is free (adopted processes
 * already hold theirs), and the coordinator's data agrees with the epoch length it would run with.
 */
export async function preflight (plan: ClusterPlan, adopted: ReadonlyMap<string, number>, opts: { dir: string, epochSeconds?: number }): Promise<void> {
  const toStart = [...(plan.coordinator == null ? [] : [plan.coordinator]), ...plan.nodes].filter((p) => !adopted.has(p.name))
  await assertPortsFree(toStart.flatMap((p) => p.ports),
    `stop what holds them (another cluster: \`ephemera cluster down --dir\` with its directory), or change the ports in the configs of ${opts.dir}; nothing was started`)
  if (plan.coordinator != null && !adopted.has(plan.coordinator.name)) {
    await assertEpochLengthMatches(plan.coordinator.configFile, opts.epochSeconds, opts.dir)
  }
}
