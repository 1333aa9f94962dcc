// The command line of scripts/bench.mjs and the plan of rows it runs (pure; unit-tested in
// test/unit/bench/options.test.ts).
import { parseArgs } from 'node:util'

export const DEFAULTS = Object.freeze({ epochs: 8, mixnodes: 1000, out: 'bench-results.json', docs: 'docs' })

/** The default plan (issue 11): N = 4, 7, 10 with 2 s and 10 s epochs; 16 and 25 with 10 s; 10,000 mixnodes at N = 4 and 10. */
export const DEFAULT_ROWS = '4@2,7@2,10@2,4@10,7@10,10@10,16@10,25@10,4@10/10000,10@10/10000'

export const USAGE = `usage: node scripts/bench.mjs [options]   (npm run bench builds first, then runs the default plan)

  --rows SPEC            rows to run, comma-separated N@L[/M][xE]: N nodes, L-second epochs, M mixnodes
                         (default --mixnodes), E measured epochs (default --epochs);
                         e.g. 4@2,10@10/10000x6
  --nodes 4,7            nodes of each row (instead of --rows: every N × every L × every M)
  --epoch-seconds 2,10   epoch lengths
  --mixnodes 1000        simulated mixnodes (a list too)
  --epochs 8             measured epochs per row, after one warm-up epoch
  --no-standalone        skip the standalone baseline (one per epoch length and mixnode count)
  --out FILE             raw figures (default bench-results.json)
  --docs DIR             where BENCHMARK.md and bench-latency.svg go (default docs)
  --readme               also refresh the table in README.md (on by default for the default plan)
  --help

Environment: BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" passes node flags to every process the
bench starts (the nodes and the coordinator inherit them), e.g. to profile a row.

Default plan: ${DEFAULT_ROWS} (and the standalone baselines):
about 25 minutes on 2 cores when every row commits, up to about 40 when rows fail.`

const LIMITS = { nodes: [1, 200], epochSeconds: [1, 3600], mixnodes: [1, 30_000], epochs: [1, 1000] }

function int (text, what) {
  const [min, max] = LIMITS[what]
  const value = /^\d+$/.test(String(text).trim()) ? Number(text) : NaN
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`${what} must be an integer from ${min} to ${max}, got "${text}"`)
  return value
}

function list (text, what) {
  const items = String(text).split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (items.length === 0) throw new RangeError(`${what}: empty list`)
  return items.map((s) => int(s, what))
}

/** One row spec, N@L[/M][xE]. */
export function parseRow (spec, defaults) {
  const m = /^(\d+)@(\d+)(?:\/(\d+))?(?:x(\d+))?$/.exec(spec.trim())
  if (m == null) throw new RangeError(`row "${spec}" is not N@L[/M][xE] (e.g. 10@2 or 4@10/10000x6)`)
  return {
    mode: 'consensus',
    nodes: int(m[1], 'nodes'),
    epochSeconds: int(m[2], 'epochSeconds'),
    mixnodes: m[3] == null ? defaults.mixnodes : int(m[3], 'mixnodes'),
    epochs: m[4] == null ? defaults.epochs : int(m[4], 'epochs')
  }
}

/** The standalone baselines a plan needs: one per distinct (epoch length, mixnodes), first. */
export function withBaselines (rows, epochs) {
  const seen = new Map()
  for (const r of rows) {
    const key = `${r.epochSeconds}/${r.mixnodes}`
    if (!seen.has(key)) seen.set(key, { mode: 'standalone', nodes: 1, epochSeconds: r.epochSeconds, mixnodes: r.mixnodes, epochs })
  }
  return [...seen.values(), ...rows]
}

/**
 * Options and the plan from argv.
 * @returns {{ help: boolean, rows: Array<{ mode: string, nodes: number, epochSeconds: number, mixnodes: number, epochs: number }>, isDefaultPlan: boolean, out: string, docs: string, readme: boolean }}
 */
export function parseOptions (argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      rows: { type: 'string' },
      nodes: { type: 'string' },
      'epoch-seconds': { type: 'string' },
      mixnodes: { type: 'string' },
      epochs: { type: 'string' },
      'no-standalone': { type: 'boolean', default: false },
      out: { type: 'string', default: DEFAULTS.out },
      docs: { type: 'string', default: DEFAULTS.docs },
      readme: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  const epochs = values.epochs == null ? DEFAULTS.epochs : int(values.epochs, 'epochs')
  const mixnodes = values.mixnodes == null ? [DEFAULTS.mixnodes] : list(values.mixnodes, 'mixnodes')
  const crossed = values.nodes != null || values['epoch-seconds'] != null
  if (values.rows != null && crossed) throw new RangeError('give either --rows or --nodes/--epoch-seconds, not both')
  if (values.rows != null && values.mixnodes != null && mixnodes.length > 1) throw new RangeError('with --rows, --mixnodes is one default (put /M in a row for others)')
  let consensus
  if (values.rows != null) {
    consensus = values.rows.split(',').filter((s) => s.trim() !== '').map((spec) => parseRow(spec, { mixnodes: mixnodes[0], epochs }))
    if (consensus.length === 0) throw new RangeError('--rows: empty list')
  } else if (crossed || values.mixnodes != null) {
    const nodes = values.nodes == null ? [4] : list(values.nodes, 'nodes')
    const lengths = values['epoch-seconds'] == null ? [2] : list(values['epoch-seconds'], 'epochSeconds')
    consensus = []
    for (const m of mixnodes) for (const l of lengths) for (const n of nodes) consensus.push({ mode: 'consensus', nodes: n, epochSeconds: l, mixnodes: m, epochs })
  } else {
    consensus = DEFAULT_ROWS.split(',').map((spec) => parseRow(spec, { mixnodes: DEFAULTS.mixnodes, epochs }))
  }
  const isDefaultPlan = values.rows == null && !crossed && values.mixnodes == null && values.epochs == null && !values['no-standalone']
  return {
    help: values.help,
    rows: values['no-standalone'] ? consensus : withBaselines(consensus, epochs),
    isDefaultPlan,
    out: values.out,
    docs: values.docs,
    readme: values.readme || (isDefaultPlan && values.docs === DEFAULTS.docs)
  }
}

/** How long `cluster up` may take to form the mesh of N nodes: it grows with N (8 s at 4, ~30 s at 16 measured). */
export function meshTimeoutSeconds (nodes) {
  return Math.max(60, 10 * nodes)
}

export function describeRow (r) {
  const mix = r.mixnodes.toLocaleString('en-US')
  return r.mode === 'standalone'
    ? `standalone baseline, ${r.epochSeconds} s epochs, ${mix} mixnodes`
    : `consensus N=${r.nodes}, ${r.epochSeconds} s epochs, ${mix} mixnodes`
}
