// One bench row against real processes on this machine: a consensus network started with
// `ephemera init` + `cluster up --detach` (stopped with `cluster down`), or the standalone
// baseline (a coordinator that accepts standalone submissions and one `--standalone` node).
// Every wait has a deadline; a row that cannot start or measure returns its reason instead of
// throwing, and everything it started is stopped.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { openSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getJson, measureEpochs, sleep } from './measure-epochs.mjs'
import { meshTimeoutSeconds } from './options.mjs'
// below the ephemeral range, the rule the tests use too
import { freePortBlock } from '../../dist/src/cluster/ports.js'

const CLI = fileURLToPath(new URL('../../dist/bin/ephemera.js', import.meta.url))

/** What stops the running row's processes, for an interrupted bench (the nodes run detached). */
export const cleanups = new Set()
const ENV = { ...process.env, LOG_LEVEL: 'warn' }

/** Node flags for every CLI process (BENCH_NODE_ARGS, e.g. --cpu-prof --cpu-prof-dir=DIR): children inherit them. */
const NODE_ARGS = process.env.BENCH_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? []

/** Runs the CLI; resolves with its exit code and output; SIGTERM at the deadline (SIGKILL 15 s later). */
export function cli (args, { timeoutMs, onLine } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...NODE_ARGS, CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d
      if (onLine != null) for (const line of d.split('\n')) if (line.trim() !== '') onLine(line.trim())
    })
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d })
    const term = setTimeout(() => { timedOut = true; child.kill('SIGTERM') }, timeoutMs ?? 60_000)
    const kill = setTimeout(() => { child.kill('SIGKILL') }, (timeoutMs ?? 60_000) + 15_000)
    child.on('close', (code, signal) => {
      clearTimeout(term)
      clearTimeout(kill)
      resolve({ code, signal, timedOut, stdout, stderr })
    })
  })
}

function lastLines (text, count = 2) {
  return text.trim().split('\n').filter((l) => l.trim() !== '').slice(-count).join(' | ').slice(0, 400)
}

export function failure (r) {
  return `${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`}: ${lastLines(r.stderr) || lastLines(r.stdout) || '(no output)'}`
}

/** Prints cluster up's "waiting for mesh" lines at most every 15 s, so a slow start shows progress. */
function meshProgress (progress) {
  let last = 0
  return (line) => {
    if (!line.startsWith('waiting for mesh') || Date.now() - last < 15_000) return
    last = Date.now()
    progress(line.length > 160 ? `${line.slice(0, 157)}...` : line)
  }
}

/** A row that fell short keeps its processes' logs (under `logsDir`), for finding out why. */
async function keepLogs (result, from, logsDir, name, progress) {
  if (logsDir == null || (result.status === 'ok' && result.committed === result.epochs)) return
  const to = join(logsDir, name)
  try {
    await cp(from, to, { recursive: true })
    result.logs = to
    progress(`logs kept in ${to}`)
  } catch {}
}

export async function consensusRow (row, progress, logsDir) {
  const dir = await mkdtemp(join(tmpdir(), `ephemera-bench-${row.nodes}-`))
  const result = { status: 'ok' }
  let up = false
  try {
    const base = await freePortBlock(2 * row.nodes + 3)
    const init = await cli(['init', '--nodes', String(row.nodes), '--out', dir, '--base-port', String(base), '--environment', 'testing', '--epoch-seconds', String(row.epochSeconds), '--mixnodes', String(row.mixnodes)], { timeoutMs: 120_000 })
    if (init.code !== 0) return Object.assign(result, { status: 'no-start', reason: `init ${failure(init)}` })
    const meshTimeout = meshTimeoutSeconds(row.nodes)
    progress(`cluster up: ${row.nodes} nodes and the coordinator on ports ${base}–${base + 2 * row.nodes + 2} (mesh deadline ${meshTimeout} s)`)
    const t0 = Date.now()
    up = true
    const down = async () => {
      await cli(['cluster', 'down', '--dir', dir], { timeoutMs: 120_000 })
      await rm(dir, { recursive: true, force: true })
    }
    cleanups.add(down)
    const started = await cli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', String(meshTimeout)], { timeoutMs: (meshTimeout + 60) * 1000, onLine: meshProgress(progress) })
    const upSeconds = Math.round((Date.now() - t0) / 100) / 10
    if (started.code !== 0) return Object.assign(result, { status: 'no-mesh', reason: `cluster up ${failure(started)}`, startup: { meshSeconds: null, upSeconds } })
    const meshSeconds = Number(/mesh formed in ([\d.]+) s/.exec(started.stdout)?.[1] ?? NaN)
    result.startup = { meshSeconds: Number.isFinite(meshSeconds) ? meshSeconds : null, upSeconds }
    progress(`mesh formed in ${meshSeconds} s`)
    const cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8'))
    Object.assign(result, await measureEpochs({ contract: cluster.coordinator.httpUrl, nodes: cluster.nodes, coordinator: cluster.coordinator, epochs: row.epochs, rbc: true, progress }))
  } catch (err) {
    Object.assign(result, { status: 'error', reason: err.message })
  } finally {
    if (up) {
      const down = await cli(['cluster', 'down', '--dir', dir], { timeoutMs: 120_000 })
      if (down.code !== 0) progress(`cluster down ${failure(down)}`)
      cleanups.clear()
      await keepLogs(result, join(dir, 'logs'), logsDir, `N${row.nodes}-${row.epochSeconds}s-${row.mixnodes}`, progress)
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
  return result
}

async function stop (child) {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const killer = setTimeout(() => { child.kill('SIGKILL') }, 10_000)
  await exited
  clearTimeout(killer)
}

/** Waits (deadline) until a URL answers; the time it took (s). */
async function answers (url, deadlineMs, child) {
  const t0 = Date.now()
  for (;;) {
    if (child.exitCode != null) throw new Error(`${url}: the process exited (${child.exitCode})`)
    if (await getJson(url, 2_000).then(() => true, () => false)) return Math.round((Date.now() - t0) / 100) / 10
    if (Date.now() - t0 > deadlineMs) throw new Error(`${url} did not answer within ${deadlineMs / 1000} s`)
    await sleep(200)
  }
}

export async function standaloneRow (row, progress, logsDir) {
  const dir = await mkdtemp(join(tmpdir(), 'ephemera-bench-standalone-'))
  const children = []
  const result = { status: 'ok' }
  try {
    const base = await freePortBlock(6)
    const init = await cli(['init', '--nodes', '1', '--out', dir, '--base-port', String(base), '--environment', 'testing', '--epoch-seconds', String(row.epochSeconds), '--mixnodes', String(row.mixnodes)], { timeoutMs: 120_000 })
    if (init.code !== 0) return Object.assign(result, { status: 'no-start', reason: `init ${failure(init)}` })
    const output = openSync(join(dir, 'processes.out'), 'a')
    try {
      children.push(spawn(process.execPath, [CLI, 'contract', 'run', '--config', join(dir, 'coordinator', 'config.toml'), '--set', 'allow_standalone=true'], { env: ENV, stdio: ['ignore', output, output] }))
      children.push(spawn(process.execPath, [CLI, 'node', 'run', '--config', join(dir, 'node1', 'config.toml'), '--standalone'], { env: ENV, stdio: ['ignore', output, output] }))
    } finally {
      closeSync(output)
    }
    const stopAll = async () => {
      await Promise.all(children.map(stop))
      await rm(dir, { recursive: true, force: true })
    }
    cleanups.add(stopAll)
    const [coordinator, node] = children
    const contract = `http://127.0.0.1:${base}`
    const nodeConfig = await readFile(join(dir, 'node1', 'config.toml'), 'utf8')
    const nodeHttp = `http://127.0.0.1:${/\[http\][^[]*?port\s*=\s*(\d+)/.exec(nodeConfig)?.[1] ?? base + 2}`
    try {
      await answers(`${contract}/contract/health`, 60_000, coordinator)
      result.startup = { meshSeconds: null, upSeconds: await answers(`${nodeHttp}/ephemera/node/health`, 60_000, node) }
    } catch (err) {
      const out = await readFile(join(dir, 'processes.out'), 'utf8').catch(() => '')
      return Object.assign(result, { status: 'no-start', reason: `${err.message}${out.trim() !== '' ? `: ${lastLines(out)}` : ''}` })
    }
    progress('coordinator and node up')
    Object.assign(result, await measureEpochs({ contract, nodes: [{ httpUrl: nodeHttp, pid: node.pid }], coordinator: { pid: coordinator.pid }, epochs: row.epochs, rbc: false, progress }))
    return result
  } catch (err) {
    return Object.assign(result, { status: 'error', reason: err.message })
  } finally {
    await Promise.all(children.map(stop))
    cleanups.clear()
    await keepLogs(result, join(dir, 'processes.out'), logsDir, `standalone-${row.epochSeconds}s-${row.mixnodes}.out`, progress)
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
}
