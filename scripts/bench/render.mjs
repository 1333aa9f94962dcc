// What `npm run bench` writes (pure; unit-tested in test/unit/bench/render.test.ts): the results
// table (docs/BENCHMARK.md and the README), the floor model's constants, and the latency plot
// (docs/bench-latency.svg, a hand-written SVG without dependencies).
import { CONSENSUS_HOPS, STANDALONE_HOPS } from './floor-model.mjs'

export const README_START = '<!-- bench:table (written by npm run bench) -->'
export const README_END = '<!-- /bench:table -->'

const int = (x) => Math.round(x).toLocaleString('en-US')
/** ms with one decimal below 10, whole above. */
export function ms (x) {
  if (x == null || !Number.isFinite(x)) return '–'
  return x < 10 ? x.toFixed(1) : int(x)
}

function committedCell (r) {
  if (r.status !== 'ok' && r.committed == null) return '–'
  return `${r.committed}/${r.epochs}`
}

/** A reason in a table cell: without timestamps, long lists of numbers shortened, at most 160 characters. */
export function shortReason (reason) {
  const text = reason.replace(/ ?\(\d{4}-\d\d-\d\dT[^)]*\)/g, '').replace(/\b(\d+)(?:, \d+){2,}, (\d+)\b/g, '$1, …, $2')
  return text.length > 160 ? `${text.slice(0, 159)}…` : text
}

/** Why a row is short of "every epoch committed", or empty. */
export function rowNote (r) {
  const notes = []
  if (r.status === 'no-start') notes.push(`did not start: ${r.reason}`)
  else if (r.status === 'no-mesh') notes.push(`the mesh did not form: ${r.reason}`)
  else if (r.status === 'error') notes.push(`stopped: ${r.reason}`)
  const counts = {}
  for (const v of r.notCommitted ?? []) counts[v.verdict] = (counts[v.verdict] ?? 0) + 1
  for (const [verdict, count] of Object.entries(counts)) notes.push(`${count} ${verdict}`)
  const reasons = [...new Set((r.notCommitted ?? []).map((v) => v.reason).filter((x) => x != null).map(shortReason))]
  if (reasons.length > 0) notes.push(reasons.slice(0, 2).join('; '))
  if (r.nodesDown > 0) notes.push(`${r.nodesDown} node(s) down at the end`)
  return notes.join('; ').replaceAll('|', '\\|')
}

export function resultsTable (results) {
  const head = ['mode', 'N', 'mixnodes', 'epoch', 'committed', 'p50 / p95 ms', 'floor ms', 'p50 ÷ floor', 'RBC msgs/epoch (4N²)', 'RBC KiB/epoch', 'CPU/node', 'RSS/node', 'mesh', 'note']
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`]
  for (const r of results) {
    const consensus = r.mode === 'consensus'
    const lat = r.latencyMs
    const floor = r.floor?.floorMs
    lines.push(`| ${[
      r.mode,
      r.nodes,
      int(r.mixnodes),
      `${r.epochSeconds} s`,
      committedCell(r),
      lat == null ? '–' : `${ms(lat.p50)} / ${ms(lat.p95)}`,
      ms(floor),
      lat == null || floor == null ? '–' : `${(lat.p50 / floor).toFixed(1)}×`,
      consensus && r.rbc != null ? `${int(r.rbc.messagesPerEpoch)} (${int(4 * r.nodes * r.nodes)})` : '–',
      consensus && r.rbc != null ? int(r.rbc.kibPerEpoch) : '–',
      r.cpuPercentPerNode == null ? '–' : `${r.cpuPercentPerNode.mean} %`,
      r.rssMiBPerNode == null ? '–' : `${r.rssMiBPerNode.mean} MiB`,
      r.startup?.meshSeconds != null ? `${r.startup.meshSeconds} s` : '–',
      rowNote(r)
    ].join(' | ')} |`)
  }
  return lines.join('\n')
}

export function phasesTable (results) {
  const rows = results.filter((r) => r.mode === 'consensus' && r.phasesMs != null && r.latencyMs != null)
  const lines = ['| N | epoch | mixnodes | computed | reports gathered | block delivered | committed |', '| --- | --- | --- | --- | --- | --- | --- |']
  for (const r of rows) lines.push(`| ${r.nodes} | ${r.epochSeconds} s | ${int(r.mixnodes)} | ${ms(r.phasesMs.computed)} | ${ms(r.phasesMs.reports)} | ${ms(r.phasesMs.delivered)} | ${ms(r.latencyMs.p50)} |`)
  return lines.join('\n')
}

/** The floor of every row: its parts, and the measured step constants. */
export function floorTables (results) {
  const rows = results.filter((r) => r.floor != null)
  const lines = ['| mode | N | mixnodes | per-node work | proposer | coordinator | all CPU work | ÷ min(cores, N + 1) (at least one process\'s share) | synced writes | hops | floor |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  for (const r of rows) {
    const f = r.floor
    lines.push(`| ${r.mode} | ${r.nodes} | ${int(r.mixnodes)} | ${ms(f.perNodeMs)} | ${ms(f.onceMs)} | ${ms(f.coordinatorMs)} | ${ms(f.cpuMs)} | ${ms(f.spreadMs)} (÷ ${f.parallelism}) | ${ms(f.syncMs)} | ${f.hops} × ${f.oneWayMs} = ${ms(f.hopsMs)} | **${ms(f.floorMs)}** |`)
  }
  // the steps, one column per distinct (mode, N, mixnodes)
  const columns = []
  const seen = new Set()
  for (const r of rows) {
    const key = `${r.mode} ${r.nodes} ${r.mixnodes}`
    if (seen.has(key)) continue
    seen.add(key)
    columns.push({ label: r.mode === 'standalone' ? `standalone, ${int(r.mixnodes)}` : `N=${r.nodes}, ${int(r.mixnodes)}`, work: r.floor.work })
  }
  const groups = [['node', 'each node'], ['once', 'one node only'], ['coordinator', 'the coordinator'], ['sync', 'synced writes on the critical path']]
  const steps = [['| step (ms) | ' + columns.map((c) => c.label).join(' | ') + ' |', '| --- | ' + columns.map(() => '---').join(' | ') + ' |']]
  for (const [group, title] of groups) {
    const names = [...new Set(columns.flatMap((c) => Object.keys(c.work[group] ?? {})))]
    for (const name of names) {
      steps.push([`| ${title}: ${name} | ${columns.map((c) => c.work[group]?.[name] == null ? '–' : c.work[group][name].toFixed(2)).join(' | ')} |`])
    }
  }
  return { parts: lines.join('\n'), steps: steps.flat().join('\n') }
}

export function hopsList () {
  const list = (hops) => hops.map((h) => `${h.step} (${h.hops})`).join(', ')
  return `consensus, ${CONSENSUS_HOPS.reduce((s, h) => s + h.hops, 0)}: ${list(CONSENSUS_HOPS)}; standalone, ${STANDALONE_HOPS.reduce((s, h) => s + h.hops, 0)}: ${list(STANDALONE_HOPS)}`
}

export function benchmarkMarkdown ({ meta, loopback, results }) {
  const { parts, steps } = floorTables(results)
  return `# Benchmark

Written by \`npm run bench\` (\`scripts/bench.mjs\`); README "Benchmark" explains the rows and the
floor model. Run of ${meta.date} on commit ${meta.commit}: Node ${meta.node}, ${meta.cores} × ${meta.cpu},
load average ${meta.loadavg.join(' ')} at the start; ${meta.plan}. Each row is one network of
processes on this machine (N nodes and a coordinator; the standalone baseline is one node and a
coordinator), one warm-up epoch, then the measured epochs. An epoch is counted once it is committed,
failed, or past its commit deadline (the coordinator's finalization window). Latency is from an
epoch's end to the coordinator's commit. Raw figures: \`${meta.out ?? 'bench-results.json'}\`.

${resultsTable(results)}

![epoch-end → commit latency (p50) against N: consensus, the standalone baseline and the floor model](bench-latency.svg)

## Where the time goes

Medians over the nodes and the committed epochs, ms after the epoch's end (the nodes' pipeline
times, \`GET /ephemera/rewards/epochs/{e}\`), and the coordinator's commit:

${phasesTable(results)}

## The floor model, as measured in this run

- loopback one-way latency: **${loopback.oneWayMs} ms** (a TCP ping-pong of ${loopback.messageBytes}-byte messages between two
  Node processes: the median of ${int(loopback.roundTrips)} round trips, ${loopback.roundTripP50Ms} ms, halved; p95 round trip ${loopback.roundTripP95Ms} ms);
- cores: **${meta.cores}** (\`os.availableParallelism()\`);
- sequential one-way hops: ${hopsList()}.

${parts}

Each step's constant: the real code from \`dist/\` run in one process (median of 12 repetitions, each
a new epoch with new signatures; synced writes through the real storage classes in a temp dir):

${steps}
`
}

const esc = (s) => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/** The plot's series: consensus p50 per (epoch length, mixnodes), the floor per mixnodes, the standalone points at N = 1. */
export function plotSeries (results) {
  const series = new Map()
  const add = (key, style, x, y) => {
    if (!series.has(key)) series.set(key, { label: key, style, points: [], missing: [] })
    if (y == null || !Number.isFinite(y) || y <= 0) series.get(key).missing.push(x)
    else series.get(key).points.push({ x, y })
  }
  for (const r of results) {
    const mix = `${int(r.mixnodes)} mixnodes`
    if (r.mode === 'consensus') {
      add(`consensus p50, ${r.epochSeconds} s epochs, ${mix}`, 'consensus', r.nodes, r.latencyMs?.p50)
      if (r.floor != null) add(`floor, ${mix}`, 'floor', r.nodes, r.floor.floorMs)
    } else {
      add(`standalone p50 (1 node), ${r.epochSeconds} s epochs, ${mix}`, 'standalone', 1, r.latencyMs?.p50)
    }
  }
  for (const s of series.values()) {
    // one point per N (a floor measured for two epoch lengths: the lower)
    const byX = new Map()
    for (const p of s.points) byX.set(p.x, Math.min(byX.get(p.x) ?? Infinity, p.y))
    s.points = [...byX].map(([x, y]) => ({ x, y })).sort((a, b) => a.x - b.x)
    s.missing = [...new Set(s.missing)].filter((x) => !byX.has(x)).sort((a, b) => a - b)
  }
  return [...series.values()]
}

/** The nearest of 1, 2, 5 × 10^k below (down) or above (up) a positive number: the plot's bounds. */
function nice (x, direction) {
  const decade = 10 ** Math.floor(Math.log10(x))
  const steps = [1, 2, 5, 10].map((k) => k * decade)
  return direction === 'up' ? steps.find((v) => v >= x * 0.9999) : [...steps].reverse().find((v) => v <= x * 1.0001)
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf']

export function latencySvg (results, title = 'Epoch end → commit, p50 (log–log)') {
  const series = plotSeries(results)
  const W = 760
  const H = 460
  const m = { left: 64, right: 20, top: 36, bottom: 48 }
  const legendH = 18 * series.length + 8
  const plotH = H - m.top - m.bottom
  const ys = series.flatMap((s) => s.points.map((p) => p.y))
  const xs = [1, ...series.flatMap((s) => [...s.points.map((p) => p.x), ...s.missing])]
  const yMin = ys.length === 0 ? 1 : nice(Math.min(...ys) / 1.2, 'down')
  const yMax = ys.length === 0 ? 1000 : nice(Math.max(...ys) * 1.2, 'up')
  const xMin = 0.8
  const xMax = Math.max(...xs) * 1.2
  const X = (x) => m.left + (Math.log(x / xMin) / Math.log(xMax / xMin)) * (W - m.left - m.right)
  const Y = (y) => m.top + legendH + (1 - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (plotH - legendH)
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`]
  for (let d = 10 ** Math.floor(Math.log10(yMin)); d <= yMax * 1.0001; d *= 10) {
    for (const k of [1, 2, 5]) {
      const y = d * k
      if (y < yMin * 0.9999) continue
      if (y > yMax * 1.0001) break
      out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${Y(y).toFixed(1)}" y2="${Y(y).toFixed(1)}" stroke="${k === 1 ? '#ccc' : '#eee'}"/>`)
      if (k === 1 || yMax / yMin <= 100) out.push(`<text x="${m.left - 6}" y="${(Y(y) + 4).toFixed(1)}" text-anchor="end">${y >= 1000 ? `${y / 1000} s` : `${y} ms`}</text>`)
    }
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${m.top + legendH}" y2="${H - m.bottom}" stroke="#eee"/>`)
    out.push(`<text x="${X(x).toFixed(1)}" y="${H - m.bottom + 16}" text-anchor="middle">${x}</text>`)
  }
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 10}" text-anchor="middle">N (nodes, log scale); × on the top edge: no epoch committed</text>`)
  out.push(`<rect x="${m.left}" y="${m.top + legendH}" width="${W - m.left - m.right}" height="${plotH - legendH}" fill="none" stroke="#888"/>`)
  series.forEach((s, i) => {
    const color = s.style === 'standalone' ? '#555' : COLORS[i % COLORS.length]
    const dash = s.style === 'floor' ? ' stroke-dasharray="6 4"' : ''
    const pts = s.points.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`)
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`)
    for (const p of s.points) {
      out.push(s.style === 'standalone'
        ? `<rect x="${(X(p.x) - 4).toFixed(1)}" y="${(Y(p.y) - 4).toFixed(1)}" width="8" height="8" fill="${color}"><title>${esc(`${s.label}: ${ms(p.y)} ms`)}</title></rect>`
        : `<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3.5" fill="${s.style === 'floor' ? '#fff' : color}" stroke="${color}" stroke-width="1.5"><title>${esc(`${s.label}, N=${p.x}: ${ms(p.y)} ms`)}</title></circle>`)
    }
    // a row that committed nothing: a cross on the top edge
    for (const x of s.missing) {
      const cx = X(x)
      const cy = m.top + legendH + 10
      out.push(`<path d="M${(cx - 5).toFixed(1)},${cy - 5} l10,10 m0,-10 l-10,10" stroke="${color}" stroke-width="2"><title>${esc(`${s.label}, N=${x}: no epoch committed`)}</title></path>`)
    }
    const ly = m.top + 6 + 18 * i
    out.push(s.style === 'standalone'
      ? `<rect x="${m.left + 21}" y="${ly - 4}" width="8" height="8" fill="${color}"/>`
      : `<line x1="${m.left + 10}" x2="${m.left + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`)
    out.push(`<text x="${m.left + 48}" y="${ly + 4}">${esc(s.label)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** `text` with what lies between the two markers replaced; throws when they are missing. */
export function replaceBetween (text, start, end, replacement) {
  const i = text.indexOf(start)
  const j = text.indexOf(end, i + start.length)
  if (i < 0 || j < 0) throw new Error(`markers ${start} … ${end} not found`)
  return `${text.slice(0, i + start.length)}\n${replacement}\n${text.slice(j)}`
}
