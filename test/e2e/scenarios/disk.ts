import { join } from 'node:path'
import { fillDisk, freeDisk, mountTmpfs, umount } from '../harness/disk.js'
import { restart, step } from '../harness/faults.js'
import { describeExit } from '../harness/cluster.js'
import { logTail, parseLog } from '../harness/proc.js'
import type { ScenarioRun, ScenarioSpec } from '../harness/scenario.js'
import { epochSeconds, names, QUIET_RSS } from './common.js'

/**
 * A full disk. The data dir of the coordinator (or of one node) is a small tmpfs; once some epochs
 * are committed, a junk file fills it until writes fail. The process must fail-stop: exit with
 * code 74 (EX_IOERR) and exactly one fatal log line, rather than run on without durable storage.
 * Then the junk is freed and the process restarted.
 *
 * Invariants: nothing acknowledged is lost — every record the coordinator served or answered
 * 200 for is still served identically after the restart; every block a node served at a local
 * height is still at that height; the other nodes keep committing while a node is down (node
 * variant); the restarted process catches up; records, no double signing, RSS bounded.
 * Skipped, with the reason, where mounting a tmpfs is not permitted.
 */
export function fullDisk (n: number, target: 'coordinator' | 'node'): ScenarioSpec {
  const victim = target === 'coordinator' ? 'coordinator' : names(n)[1]!
  const dataDir = (run: ScenarioRun): string => target === 'coordinator' ? join(run.cluster.dir, 'coordinator', 'data') : join(run.cluster.member(victim).dir, 'data')
  return {
    name: `full-disk-${target}`,
    n,
    faults: `${victim}'s data dir (a ${target === 'coordinator' ? 16 : 48} MiB tmpfs) filled up; expect exit 74 + one fatal line; freed, restarted`,
    cluster: { app: 'rewards', epochSeconds: epochSeconds(n) },
    setup: async (run) => {
      const dir = dataDir(run)
      const problem = await mountTmpfs(dir, target === 'coordinator' ? 16 : 48)
      if (problem != null) run.skip(`full disk: ${problem}`)
      run.data.mount = dir
    },
    cleanup: async (run) => {
      if (typeof run.data.mount === 'string') await umount(run.data.mount)
      run.data.mount = undefined
    },
    steps: [
      {
        at: { epoch: 3 },
        do: step(`fill ${victim}'s disk`, async (run) => {
          const p = run.cluster.process(victim)
          run.data.logStart = p.log().length
          const { bytes } = await fillDisk(dataDir(run))
          run.data.filledAt = Date.now()
          run.ledger.begin(victim, 'disk-full', 'disk full')
          run.note(`filled ${victim}'s tmpfs with ${(bytes / 1048576).toFixed(1)} MiB of junk at epoch ${run.cluster.epochAt()}`)
        })
      },
      {
        do: step(`${victim} fail-stops (exit 74, one fatal line)`, async (run) => {
          const p = run.cluster.process(victim)
          const L = run.cluster.epochMs
          let exit
          try {
            exit = await p.waitExit(4 * L + 30_000)
          } catch {
            run.violation('fail-stop', `${victim} kept running ${(4 * L + 30_000) / 1000} s after its disk filled up (it must exit when it cannot write); last log: ${logTail(p.log().slice(run.data.logStart as number))}`)
            p.kill9()
            await p.waitExit(10_000)
            return
          }
          const fatal = parseLog(p.log().slice(run.data.logStart as number)).filter((l) => l.level >= 60)
          run.note(`${victim} exited ${((exit.at - (run.data.filledAt as number)) / 1000).toFixed(1)} s after the disk filled: ${describeExit(p)}; fatal lines: ${fatal.map((l) => `"${l.msg}${typeof l.err === 'string' ? `: ${l.err}` : ''}"`).join(', ') || 'none'}`)
          if (exit.code !== 74) run.violation('fail-stop', `${victim} exited with ${describeExit(p)} on a full disk, expected exit code 74`)
          if (fatal.length !== 1) run.violation('fail-stop', `${victim} logged ${fatal.length} fatal lines on a full disk, expected exactly one`)
        })
      },
      {
        at: { afterMs: 2_000 },
        do: step(`free ${victim}'s disk`, async (run) => {
          await freeDisk(join(dataDir(run), 'junk.fill'))
          run.ledger.end(victim, 'disk-full')
          run.ledger.begin(victim, 'down', 'stopped on a full disk')
        })
      },
      { do: restart(victim) }
    ],
    tailEpochs: 5,
    invariants: {
      liveness: { maxGap: 3 },
      catchUpWithinMs: 40_000,
      rss: QUIET_RSS
    }
  }
}
