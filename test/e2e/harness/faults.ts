import { COORDINATOR, NETWORK } from './ledger.js'
import { describeExit } from './cluster.js'
import { logTail } from './proc.js'
import { remainingCrashEnv, type Action, type ScenarioRun } from './scenario.js'
import { waitUntil } from './wait.js'

/**
 * Fault injectors, as declarative actions for a scenario's timeline. Each one updates the fault
 * ledger (which liveness is judged against) and, when a node comes back, starts a catch-up check.
 * Names are node names or 'coordinator'.
 */

/** kill -9 now. */
export function kill (name: string): Action {
  return {
    label: `kill -9 ${name}`,
    run: async (run) => {
      const p = run.cluster.process(name)
      p.kill9()
      const exit = await p.waitExit(10_000)
      run.ledger.begin(name, 'down', 'kill -9', exit.at)
    }
  }
}

/** SIGTERM (graceful stop) now. */
export function stop (name: string): Action {
  return {
    label: `stop ${name}`,
    run: async (run) => {
      const p = run.cluster.process(name)
      const exit = await p.stop(20_000)
      run.ledger.begin(name, 'down', 'stopped', exit?.at)
      if (exit != null && exit.code !== 0) run.violation('shutdown', `${name} exited with ${describeExit(p)} on SIGTERM: ${logTail(p.logSince())}`)
    }
  }
}

/**
 * Kill -9 at a named point of the scenario's epoch k (the step's `{ epoch: k }`), using the
 * product's test hook EPHEMERA_TEST_CRASH_AT (armed when the process starts). Node points:
 * computing, gossiping, broadcasting, submitting, committed; coordinator: submission, commit.
 * The step waits for the process to die by SIGKILL.
 */
export function crashAt (name: string, point: string): Action {
  return {
    label: `${name} kills itself (-9) at ${point}`,
    arm: { target: name, point },
    run: async (run) => {
      const p = run.cluster.process(name)
      const armed = (run.armed.get(name) ?? []).find((a) => a.startsWith(`${point}@`) && Number(a.split('@')[1]) >= run.cluster.epochAt() - 1)
      const epoch = Number(armed?.split('@')[1] ?? run.cluster.epochAt())
      const deadline = run.cluster.epochEnd(epoch) + 3 * run.cluster.epochMs + 20_000
      let exit
      try {
        exit = await p.waitExit(Math.max(1_000, deadline - Date.now()))
      } catch {
        throw new Error(`${name} was armed to kill itself at ${point}@${epoch} but was still running ${Math.round((Date.now() - run.cluster.epochEnd(epoch)) / 1000)} s after that epoch ended`)
      }
      if (exit.signal !== 'SIGKILL') throw new Error(`${name} exited with ${describeExit(p)}, not by its crash point ${point}@${epoch}: ${logTail(p.logSince())}`)
      run.ledger.begin(name, 'down', `kill -9 at ${point}@${epoch}`, exit.at)
      run.note(`${name} killed itself at ${point}@${epoch} (${((exit.at - run.cluster.epochEnd(epoch)) / 1000).toFixed(1)} s after the epoch ended)`)
    }
  }
}

/** Starts a stopped process again (with its crash points still ahead), waits until it is ready. */
export function restart (name: string, opts: { env?: Record<string, string>, args?: string[] } = {}): Action {
  return {
    label: `restart ${name}`,
    run: async (run) => {
      const p = run.cluster.process(name)
      if (p.running) throw new Error(`${name} is still running`)
      const env = { ...remainingCrashEnv(run, name), ...opts.env }
      if (name === COORDINATOR) {
        await run.cluster.startCoordinator({ env })
      } else {
        await run.cluster.startNode(name, { env, args: opts.args, timeoutMs: 60_000 })
      }
      run.ledger.end(name)
      if (name !== COORDINATOR) run.catchUp.track(run, name)
    }
  }
}

/** SIGSTOP now. */
export function pause (name: string): Action {
  return {
    label: `SIGSTOP ${name}`,
    run: async (run) => {
      run.cluster.process(name).pause()
      run.ledger.begin(name, 'paused', 'SIGSTOP')
    }
  }
}

/** SIGCONT now. */
export function resume (name: string): Action {
  return {
    label: `SIGCONT ${name}`,
    run: async (run) => {
      run.cluster.process(name).resume()
      run.ledger.end(name, 'paused')
      if (name !== COORDINATOR) run.catchUp.track(run, name)
    }
  }
}

/**
 * Cuts the network into groups (node names; members not named form one more group) with the
 * transport's test-only partition switch. Members outside a group holding a quorum count as
 * faulty; if no group holds a quorum, liveness is not promised until the heal.
 */
export function partition (...groups: string[][]): Action {
  return {
    label: `partition ${groups.map((g) => `{${g.join(',')}}`).join(' | ')}`,
    run: async (run) => {
      const c = run.cluster
      await c.partition(groups)
      const named = new Set(groups.flat())
      const all = [...groups, c.names.filter((n) => !named.has(n))].filter((g) => g.length > 0)
      const majority = all.find((g) => g.length >= c.q)
      if (majority == null) run.ledger.begin(NETWORK, 'no-quorum', `partition ${all.map((g) => g.length).join('|')}`)
      for (const name of c.names) {
        if (majority == null || !majority.includes(name)) run.ledger.begin(name, 'partitioned', 'partition')
      }
      // the switch polls every 200 ms: wait until the cut links are really down
      await waitUntil(async () => {
        for (const g of all) {
          for (const name of g) {
            if (!c.node(name).running || c.node(name).paused) continue
            const info = await fetch(`${c.url(name)}/ephemera/broadcast/group/info`, { signal: AbortSignal.timeout(2_000) }).then(async (r) => await r.json() as { members: Array<{ name: string, connected: boolean }> }).catch(() => undefined)
            if (info == null || info.members.some((m) => m.connected && !g.includes(m.name))) return false
          }
        }
        return true
      }, { timeoutMs: 15_000, what: 'the partition to take effect' })
    }
  }
}

/** Heals every partition; the members cut off must then catch up. */
export function heal (): Action {
  return {
    label: 'heal the partition',
    run: async (run) => {
      const c = run.cluster
      const cut = c.names.filter((n) => run.ledger.intervals.some((i) => i.who === n && i.kind === 'partitioned' && i.to == null))
      await c.healPartition()
      run.ledger.end(NETWORK, 'no-quorum')
      for (const name of cut) {
        run.ledger.end(name, 'partitioned')
        run.catchUp.track(run, name)
      }
      const up = c.names.filter((n) => c.node(n).running && !c.node(n).paused && !run.byzantine.has(n))
      await c.waitMesh(up, 30_000)
    }
  }
}

/** Any scenario-specific step. */
export function step (label: string, fn: (run: ScenarioRun) => Promise<void>): Action {
  return { label, run: fn }
}

/** A no-op, to wait for a trigger (e.g. let epochs run). */
export function wait (label = 'let it run'): Action {
  return { label, run: async () => {} }
}
