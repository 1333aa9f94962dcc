/**
 * Renders the scale simulation (scale-run.ts) as docs/SIMULATION.md: the model and its constants,
 * then one table per network model, ours against all-propose.
 */
import { GOSSIP_OVERHEAD, LINK_OVERHEAD } from './epoch-fixtures.js'
import type { EpochSimResult } from './epoch-sim.js'
import type { Row, ScaleReport } from './scale-run.js'

const MiB = 2 ** 20

export function median (xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
const defined = (xs: ReadonlyArray<number | undefined>): number[] => xs.filter((x): x is number => x != null)

/** ms with a sensible precision; '–' when some epoch never got there. */
function ms (values: ReadonlyArray<number | undefined>, pick: (xs: number[]) => number | undefined = median): string {
  const xs = defined(values)
  if (xs.length < values.length || xs.length === 0) return '–'
  const v = pick(xs) as number
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

const int = (x: number): string => Math.round(x).toLocaleString('en-US')
const mib = (bytes: number): string => (bytes / MiB >= 100 ? (bytes / MiB).toFixed(0) : (bytes / MiB).toFixed(2))

export interface RowSummary {
  blocks: string
  maxMessages: number
  meanMessages: number
  meanBytes: number
  reportMessages: number
  reportBytes: number
  first: string
  quorum: string
  ready: string
  readyMax: string
  drain: string
  busiest: number
  problems: string[]
}

export function summarize (row: Row): RowSummary {
  const e: readonly EpochSimResult[] = row.epochs
  const blocks = e.map((x) => x.proposals)
  return {
    blocks: blocks.every((b) => b === blocks[0]) ? String(blocks[0]) : blocks.join('·'),
    maxMessages: Math.max(...e.map((x) => x.rbc.total.messages)),
    meanMessages: mean(e.map((x) => x.rbc.total.messages)),
    meanBytes: mean(e.map((x) => x.rbc.total.bytes)),
    reportMessages: mean(e.map((x) => x.reports.messages)),
    reportBytes: mean(e.map((x) => x.reports.bytes)),
    first: ms(e.map((x) => x.firstMs)),
    quorum: ms(e.map((x) => x.quorumMs)),
    ready: ms(e.map((x) => x.readyMs)),
    readyMax: ms(e.map((x) => x.readyMs), (xs) => Math.max(...xs)),
    drain: ms(e.map((x) => x.drainMs)),
    busiest: mean(e.map((x) => x.busiestMs)),
    problems: [...new Set(e.flatMap((x) => x.problems))]
  }
}

function table (rows: readonly Row[], withDesign: boolean): string[] {
  const head = `| N |${withDesign ? ' design |' : ''} epochs | blocks/epoch | RBC msgs/epoch (4N²) | RBC MiB/epoch | report msgs / MiB | first / quorum ms | all nodes ms p50 / max | drained ms | busiest node ms | sim CPU s |`
  const out = [head, `|${' --- |'.repeat(head.split('|').length - 2)}`]
  for (const row of rows) {
    const s = summarize(row)
    const budget = 4 * row.n * row.n
    const over = s.maxMessages > budget ? ' **over**' : ''
    out.push(`| ${row.n} |${withDesign ? ` ${row.design} |` : ''} ${row.epochs.length} | ${s.blocks} | ${int(s.maxMessages)} (${int(budget)})${over} | ${mib(s.meanBytes)} | ${int(s.reportMessages)} / ${mib(s.reportBytes)} | ${s.first} / ${s.quorum} | ${s.ready} / ${s.readyMax} | ${s.drain} | ${int(s.busiest)} | ${row.cpuSeconds.toFixed(1)} |`)
  }
  return out
}

/** One line per N: ours against all-propose in every model (for the README). */
export function summaryTable (report: ScaleReport): string[] {
  const models = report.models.map((m) => m.name)
  const head = `| N | RBC msgs/epoch ours / all-propose | RBC MiB/epoch ours / all-propose | ${models.map((m) => `all nodes ms (${m}) ours / all-propose`).join(' | ')} |`
  const out = [head, `|${' --- |'.repeat(head.split('|').length - 2)}`]
  for (const n of [...new Set(report.rows.map((r) => r.n))]) {
    const find = (model: string, design: string): Row | undefined => report.rows.find((r) => r.model === model && r.n === n && r.design === design && !r.leaderDown)
    const first = models[0] as string
    const ours = find(first, 'ours')
    const all = find(first, 'all-propose')
    if (ours == null || all == null) continue
    const [o, a] = [summarize(ours), summarize(all)]
    const lat = models.map((m) => {
      const [x, y] = [find(m, 'ours'), find(m, 'all-propose')]
      return x == null || y == null ? '–' : `${summarize(x).ready} / ${summarize(y).ready}`
    })
    out.push(`| ${n} | ${int(o.meanMessages)} / ${int(a.meanMessages)} | ${mib(o.meanBytes)} / ${mib(a.meanBytes)} | ${lat.join(' | ')} |`)
  }
  return out
}

/** Which rows ran fewer epochs than the others (all-propose at large N costs ~2N³ machine steps an epoch). */
function fewer (r: ScaleReport): string {
  const rows = r.rows.filter((x) => !x.leaderDown)
  const most = Math.max(...rows.map((x) => x.epochs.length))
  const short = new Map<string, number>()
  for (const x of rows) if (x.epochs.length < most) short.set(`${x.design} at N = ${x.n}`, x.epochs.length)
  if (short.size === 0) return `Every row ran ${most} epochs.`
  return `Rows ran ${most} epochs, except ${[...short].map(([k, v]) => `${k} (${v})`).join(', ')}: all-propose costs ~2N³ machine steps an epoch.`
}

export function renderMarkdown (r: ScaleReport): string {
  const b = r.costs
  const lines: string[] = [
    '# Simulation at scale',
    '',
    `Generated by \`npm run sim:scale\` (test/sim/scale.run.ts) on ${r.date}, ${r.machine}, Node ${r.node}. Do not edit by hand: rerun it.`,
    '',
    'One rewards epoch at N = 4 … 100 in one process over a simulated network, with the real code:',
    'every member runs its own `RbcMachine` (src/broadcast/machine.ts), reports are real signed reports',
    `(src/epochs/report.ts) of ${int(r.mixnodes)} mixnodes, blocks are built from them as a proposer does, and every`,
    'message is encoded with the project\'s encoders (src/broadcast/wire.ts) so the bytes are real. The',
    'proposer rule is the one of src/rewards/epoch-pipeline.ts, with the rank and the stagger δ of',
    `src/rewards/proposer-timing.ts (${r.epochMs / 1000}-second epochs: δ ≥ ${r.epochMs / 10} ms, epoch deadline ${3 * r.epochMs / 1000} s).`,
    '',
    '- **ours**: the epoch\'s leader (rank 0) proposes when it holds the threshold of reports (q = n − f);',
    '  rank k proposes k·δ later (once it holds the leader\'s report: a quarter of the epoch deadline',
    '  before rank 1, δ apart after it) unless it has echoed another member\'s block (it then waits N·δ',
    '  more for it) or has a block delivered. Each node\'s δ follows the RBC time of the leader\'s blocks',
    '  it measured in earlier epochs of the run (epochs run one after another, the leader rotating).',
    '- **all-propose**: the design of the Rust Ephemera, where every node produces a block each interval:',
    '  every member proposes its own block of the reports it holds when it reaches the threshold, and',
    '  every block goes through RBC, here with the same machine: N instances of O(N²) messages, O(N³).',
    '  Ephemera itself carried the whole block in every ECHO and VOTE; here only PROPOSE carries it,',
    '  so its bytes below are a lower bound for Ephemera\'s wire format.',
    '',
    '## The model',
    '',
    'A discrete-event simulation on a virtual clock (test/sim/net-model.ts). Each message leaves its',
    'sender\'s uplink, which sends a 16 KiB chunk of each waiting message in turn (as TCP flows and yamux',
    'streams share a link: a block sent to 99 peers reaches them at about the same time, and a vote sent',
    'after it is not stuck behind it), then crosses its link in latency × (1 + jitter × u), u uniform in',
    '[0, 1) from a seeded stream; a link never reorders. Each node does its work one item at a time (the',
    'engine\'s serial queue) and each item costs what was measured on this machine:',
    '',
    '| network | one-way latency | jitter | uplink per node |',
    '| --- | --- | --- | --- |',
    ...r.models.map((m) => `| ${m.name} | ${m.latencyMs} ms | up to +${m.jitter * 100} % | ${m.uplinkMbit >= 1000 ? `${m.uplinkMbit / 1000} Gbit/s` : `${m.uplinkMbit} Mbit/s`} |`),
    '',
    '| cost on this machine (µs) | what | charged |',
    '| --- | --- | --- |',
    `| ${b.verifyUs} | Ed25519 verification (verifySignature, node:crypto), signature not seen before | each READY received, a PROPOSE's signature, each report of a block not received by gossip |`,
    `| ${b.signUs} | Ed25519 signature (NodeKey.sign) | each READY sent, each report, each proposal |`,
    `| ${b.reportCheckUs} | checkReportMessage of a gossiped report (its verification included) | each report received |`,
    `| ${b.rbcStepUs} | RbcMachine.receive of an ECHO or READY, its bookkeeping | each RBC message received |`,
    `| ${b.persistUs} | a synced LevelDB put (a vote must be durable before it is sent) | each ECHO and READY vote, each delivery, each own proposal |`,
    `| ${int(b.blockCheckUs)} | checkBlock + checkRewardsBlock of a block of ${b.blockReports} reports already verified by gossip (scaled by the reports of each block) | each PROPOSE a member still wants |`,
    `| ${int(b.blockHashUs)} | checkedBlockHash of a block of ${b.blockReports} reports, Merkle root (scaled likewise) | each PROPOSE and fetched block, building a block |`,
    '',
    '| N | report frame bytes | PROPOSE frame bytes (a block of N reports) |',
    '| --- | --- | --- |',
    ...r.sizes.map((x) => `| ${x.n} | ${int(x.reportBytes)} | ${int(x.proposeBytes)} |`),
    '',
    `An ECHO frame is ${r.echoBytes} bytes and a READY ${r.readyBytes} (the RBC frame of wire.ts plus ${LINK_OVERHEAD} bytes of yamux and noise framing and the`,
    `length prefix); a report adds an estimated ${GOSSIP_OVERHEAD} bytes of gossipsub RPC around its CBOR encoding.`,
    'Signatures inside the simulation are stand-ins whose measured cost is charged instead (a test checks',
    'that real Ed25519 in the machines gives the same run).',
    '',
    '**Times** are from the epoch\'s end, every node\'s report computed (the same in both designs):',
    '',
    '- *first*: the first node holds a certified block it would submit (ours: any block of the epoch;',
    '  all-propose, as Ephemera\'s nym-api does: its own block);',
    '- *quorum*: q = n − f of the live nodes do;',
    '- *all nodes*: every live node does;',
    '- *drained*: every block proposed is delivered at every live node (the RBC traffic is over).',
    '',
    'Each is the median over the epochs of the row; *all nodes* also gives the worst epoch.',
    '',
    '*Busiest node* is the serial work (CPU, synced writes) of the busiest node in the epoch; *sim CPU*',
    `is what simulating the row took here. ${fewer(r)}`,
    ''
  ]
  for (const model of r.models) {
    const rows = r.rows.filter((x) => x.model === model.name && !x.leaderDown)
    lines.push(`## ${model.name}: ${model.latencyMs} ms, ${model.uplinkMbit >= 1000 ? `${model.uplinkMbit / 1000} Gbit/s` : `${model.uplinkMbit} Mbit/s`}`, '', ...table(rows, true), '')
  }
  const down = r.rows.filter((x) => x.leaderDown)
  if (down.length > 0) {
    lines.push(`## The leader down (ours, ${down[0]?.model ?? ''})`, '',
      'The epoch\'s leader is down (sends and receives nothing): rank 1 proposes after δ, and every live node',
      'still delivers the epoch\'s block.', '', ...table(down, false), '')
  }
  lines.push(...findings(r))
  lines.push('## Not modelled', '',
    '- gossipsub\'s lazy gossip: a report goes from its author to every member once (flood publish, and',
    '  no mesh, so nothing is forwarded, as in the nodes); the IHAVEs each member sends at each heartbeat',
    '  would add the same to both designs;',
    '- the libp2p stack\'s own CPU per frame (streams, noise, yamux), acknowledgements and batching of RBC',
    '  messages (each message here is its own frame), retransmissions (no loss);',
    '- computing the averages before the epoch\'s reports, and the round at the coordinator after delivery',
    '  (both the same in both designs);',
    '- one machine per node: N processes sharing one machine\'s cores (the benchmark) are slower.', '')
  return lines.join('\n')
}

function findings (r: ScaleReport): string[] {
  const ours = r.rows.filter((x) => x.design === 'ours' && !x.leaderDown)
  const epochs = ours.flatMap((x) => x.epochs.map((e) => ({ n: x.n, model: x.model, e })))
  const over = epochs.filter(({ n, e }) => e.rbc.total.messages > 4 * n * n)
  const extra = epochs.filter(({ e }) => e.proposals > 1)
  const out = ['## What it shows', '']
  out.push(`- ours stayed within 4N² RBC messages in ${epochs.length - over.length} of ${epochs.length} epochs with an active leader` +
    (over.length > 0 ? ` (over in: ${over.map(({ n, model, e }) => `${model} N=${n} epoch ${e.epoch}`).join(', ')})` : '') + '.')
  out.push(extra.length === 0
    ? '- every epoch of ours had exactly one block.'
    : `- ours had more than one block in ${extra.length} epoch${extra.length === 1 ? '' : 's'}: ${extra.map(({ n, model, e }) => `${model} N=${n} epoch ${e.epoch} (${e.proposals})`).join(', ')}. The stagger δ starts at 10 % of the epoch; where the leader's PROPOSE takes longer than that to reach the others (a block of N reports to N − 1 peers on one uplink), rank 1 proposes too, until δ has learnt the RBC time.`)
  const largest = Math.max(...r.rows.map((x) => x.n))
  for (const model of r.models) {
    const o = r.rows.find((x) => x.model === model.name && x.n === largest && x.design === 'ours' && !x.leaderDown)
    const a = r.rows.find((x) => x.model === model.name && x.n === largest && x.design === 'all-propose')
    if (o == null || a == null) continue
    const [so, sa] = [summarize(o), summarize(a)]
    const size = r.sizes.find((x) => x.n === largest)
    if (size != null) {
      const fanOut = size.proposeBytes * (largest - 1) * 8 / (model.uplinkMbit * 1000)
      out.push(`- ${model.name}, N = ${largest}: the leader's uplink alone takes ${ms([fanOut])} ms to send its block (${int(size.proposeBytes)} bytes) to ${largest - 1} peers, of the ${so.ready} ms ours needs.`)
    }
    out.push(`- ${model.name}, N = ${largest}: all-propose sends ${(sa.meanMessages / so.meanMessages).toFixed(0)}× the RBC messages and ${(sa.meanBytes / so.meanBytes).toFixed(0)}× the bytes of ours; every node has its block after ${sa.ready} ms against ${so.ready} ms (busiest node: ${int(sa.busiest)} ms of work against ${int(so.busiest)}).`)
  }
  out.push('')
  return out
}
