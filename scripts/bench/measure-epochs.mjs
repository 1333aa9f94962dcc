// Measuring a running network's epochs for a bench row: which epochs, waiting until each is judged
// (judge.mjs), RBC traffic, CPU and RSS of its processes (from /proc), and where the time goes
// per node (the pipeline's times). Used for the consensus rows and the standalone baseline.
import { readFile } from 'node:fs/promises'
import { closeVerdicts, epochStats, judgeEpochs, measuredEpochs, percentile } from './judge.mjs'
import { shortReason } from './render.mjs'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

export async function getJson (url, timeoutMs = 5_000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return await res.json()
}

const CLK_TCK = 100

/** CPU seconds (user + system) and RSS (MiB) of a process, from /proc; null once it is gone. */
export async function usage (pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    return { cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK, rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024 }
  } catch {
    return null
  }
}

const clock = (ms) => new Date(ms).toISOString().slice(11, 19)
const mean = (xs) => xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length

async function snapshot (nodes, coordinator, withStatus) {
  const at = Date.now()
  const perNode = await Promise.all(nodes.map(async (node) => ({
    status: withStatus ? await getJson(`${node.httpUrl}/ephemera/broadcast/status`).catch(() => null) : null,
    usage: await usage(node.pid)
  })))
  return { at, nodes: perNode, coordinator: await usage(coordinator.pid) }
}

/** RBC messages and bytes sent per epoch (summed over the nodes), with the messages by type. */
function traffic (before, after, epochsElapsed) {
  const pairs = before.nodes.map((b, i) => [b.status?.transport, after.nodes[i].status?.transport]).filter(([b, a]) => b != null && a != null)
  if (pairs.length === 0) return null
  const byType = {}
  for (const [b, a] of pairs) {
    for (const [type, counts] of Object.entries(a.traffic?.sent ?? {})) {
      if (type === 'ack') continue
      byType[type] = (byType[type] ?? 0) + counts.messages - (b.traffic?.sent?.[type]?.messages ?? 0)
    }
  }
  const sum = (field) => pairs.reduce((s, [b, a]) => s + a[field] - b[field], 0)
  return {
    messagesPerEpoch: Math.round(sum('sent') / epochsElapsed),
    kibPerEpoch: Math.round(sum('bytesSent') / 1024 / epochsElapsed),
    byTypePerEpoch: Object.fromEntries(Object.entries(byType).map(([t, m]) => [t, Math.round(m / epochsElapsed)])),
    nodesCounted: pairs.length
  }
}

function resources (before, after) {
  const seconds = (after.at - before.at) / 1000
  const cpu = before.nodes.map((b, i) => b.usage != null && after.nodes[i].usage != null ? (after.nodes[i].usage.cpu - b.usage.cpu) / seconds * 100 : null).filter((x) => x != null)
  const rss = after.nodes.map((a) => a.usage?.rss).filter((x) => x != null)
  return {
    cpuPercentPerNode: cpu.length === 0 ? null : { mean: Math.round(mean(cpu)), max: Math.round(Math.max(...cpu)) },
    rssMiBPerNode: rss.length === 0 ? null : { mean: Math.round(mean(rss)), max: Math.round(Math.max(...rss)) },
    coordinatorCpuPercent: before.coordinator != null && after.coordinator != null ? Math.round((after.coordinator.cpu - before.coordinator.cpu) / seconds * 100) : null,
    coordinatorRssMiB: after.coordinator == null ? null : Math.round(after.coordinator.rss),
    nodesDown: after.nodes.filter((a) => a.usage == null).length
  }
}

/** Per node and committed epoch: ms after the epoch's end at which the pipeline had computed, gathered the reports, delivered the block. */
async function phases (nodes, verdicts) {
  const samples = { computed: [], reports: [], delivered: [] }
  for (const v of verdicts.filter((x) => x.verdict === 'committed')) {
    await Promise.all(nodes.map(async (node) => {
      const p = (await getJson(`${node.httpUrl}/ephemera/rewards/epochs/${v.epoch}`).catch(() => null))?.progress
      if (p?.times == null) return
      if (p.times.computedAt != null) samples.computed.push(p.times.computedAt - p.endMs)
      if (p.times.thresholdAt != null) samples.reports.push(p.times.thresholdAt - p.endMs)
      if (p.times.deliveredAt != null) samples.delivered.push(p.times.deliveredAt - p.endMs)
    }))
  }
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, xs.length === 0 ? null : Math.round(percentile(xs, 50))]))
}

/**
 * Measures `epochs` epochs after a warm-up one on a running network: waits until each is judged
 * (committed, failed, or past its commit deadline) or until the row's deadline, and returns the
 * row's figures. Throws when the coordinator stops answering for 30 s.
 * @param {{ contract: string, nodes: Array<{ httpUrl: string, pid: number }>, coordinator: { pid: number }, epochs: number, rbc: boolean, progress: (line: string) => void }} p
 */
export async function measureEpochs (p) {
  const info = await getJson(`${p.contract}/contract/epoch`)
  const epochMs = info.epochMs
  const startOf = (e) => info.genesisMs + (e - 1) * epochMs
  const { first, last } = measuredEpochs(info.epoch, p.epochs)
  // the finalization window, and one epoch more for the coordinator's tick to mark a late epoch failed (with its reason)
  const commitWindowMs = (info.environment.finalizationEpochs + 1) * epochMs
  const deadline = startOf(last) + epochMs + commitWindowMs + 30_000
  p.progress(`measuring epochs ${first}–${last} (the last ends at ${clock(startOf(last) + epochMs)}; an epoch is judged once committed, failed, or ${commitWindowMs / 1000} s after its end (its commit deadline and a tick); row deadline ${clock(deadline)})`)
  await sleep(startOf(first) - Date.now())
  const before = await snapshot(p.nodes, p.coordinator, p.rbc)
  const seen = new Set()
  let verdicts
  let unreachableSince
  for (;;) {
    await sleep(1_000)
    const now = Date.now()
    if (now < startOf(first) + epochMs) continue
    let list
    try {
      list = await getJson(`${p.contract}/contract/epochs?from=${last}&limit=${p.epochs}`)
      unreachableSince = undefined
    } catch (err) {
      unreachableSince ??= now
      if (now - unreachableSince > 30_000) throw new Error(`the coordinator stopped answering: ${err.message}`)
      continue
    }
    const judged = judgeEpochs({ summaries: list.epochs, first, last, now, commitWindowMs })
    for (const v of judged.verdicts) {
      if (v.verdict === 'waiting' || seen.has(v.epoch)) continue
      seen.add(v.epoch)
      p.progress(`epoch ${v.epoch}: ${v.verdict}${v.latencyMs != null ? ` ${v.latencyMs} ms after its end` : ''}${v.reason != null ? ` (${shortReason(v.reason)})` : ''}`)
    }
    verdicts = judged.verdicts
    if (judged.done) break
    if (now > deadline) {
      verdicts = closeVerdicts(judged.verdicts, 'not judged by the row\'s deadline')
      break
    }
  }
  const after = await snapshot(p.nodes, p.coordinator, p.rbc)
  const epochsElapsed = (after.at - before.at) / epochMs
  return {
    epochMs,
    environment: { chunkSize: info.environment.chunkSize, sampleIntervalMs: info.environment.sampleIntervalMs, finalizationEpochs: info.environment.finalizationEpochs },
    measured: { first, last },
    ...epochStats(verdicts),
    rbc: p.rbc ? traffic(before, after, epochsElapsed) : null,
    ...resources(before, after),
    phasesMs: p.rbc ? await phases(p.nodes, verdicts) : null
  }
}
