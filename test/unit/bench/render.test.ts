import { describe, expect, it } from 'vitest'
import { README_END, README_START, benchmarkMarkdown, latencySvg, ms, plotSeries, replaceBetween, resultsTable, rowNote, shortReason, type Result } from '../../../scripts/bench/render.mjs'

/** What the bench writes: tables, BENCHMARK.md and the SVG plot (scripts/bench/render.mjs). */
describe('bench rendering', () => {
  const floor = (floorMs: number): Result => ({ floorMs, perNodeMs: 10, onceMs: 2, coordinatorMs: 20, cpuMs: 62, spreadMs: 31, parallelism: 2, syncMs: 4, hops: 14, oneWayMs: 0.03, hopsMs: 0.42, cores: 2, work: { node: { 'averaging': 0.4 }, once: {}, coordinator: { checks: 20 }, sync: { vote: 0.5 } } })
  const ok = (nodes: number, epochSeconds: number, p50: number, floorMs: number): Result => ({
    mode: 'consensus', nodes, epochSeconds, mixnodes: 1000, epochs: 8, status: 'ok', committed: 8, notCommitted: [],
    latencyMs: { p50, p95: p50 * 1.5, max: p50 * 2 }, rbc: { messagesPerEpoch: 3 * nodes * nodes, kibPerEpoch: 40 },
    cpuPercentPerNode: { mean: 12, max: 15 }, rssMiBPerNode: { mean: 140, max: 150 }, startup: { meshSeconds: 8.5, upSeconds: 9 },
    phasesMs: { computed: 3, reports: 40, delivered: 150 }, floor: floor(floorMs)
  })
  const standalone: Result = { mode: 'standalone', nodes: 1, epochSeconds: 2, mixnodes: 1000, epochs: 8, status: 'ok', committed: 8, notCommitted: [], latencyMs: { p50: 20, p95: 30, max: 40 }, rbc: null, cpuPercentPerNode: { mean: 2, max: 2 }, rssMiBPerNode: { mean: 120, max: 120 }, startup: { meshSeconds: null, upSeconds: 3 }, phasesMs: null, floor: floor(7) }
  const noMesh: Result = { mode: 'consensus', nodes: 25, epochSeconds: 10, mixnodes: 1000, epochs: 8, status: 'no-mesh', reason: 'cluster up exit 1: the mesh did not form within 250 s', startup: { meshSeconds: null, upSeconds: 251 }, floor: floor(900) }

  it('formats milliseconds: one decimal below 10, whole numbers above', () => {
    expect(ms(4.44)).toBe('4.4')
    expect(ms(1234.4)).toBe('1,234')
    expect(ms(null)).toBe('–')
  })

  it('writes one table row per result, with the floor, the ratio and the 4N² budget', () => {
    const table = resultsTable([standalone, ok(10, 2, 900, 300), noMesh])
    const lines = table.split('\n')
    expect(lines).toHaveLength(5)
    expect(lines[0]).toBe('| mode | N | mixnodes | epoch | committed | p50 / p95 ms | floor ms | p50 ÷ floor | RBC msgs/epoch (4N²) | RBC KiB/epoch | CPU/node | RSS/node | mesh | note |')
    expect(lines[2]).toBe('| standalone | 1 | 1,000 | 2 s | 8/8 | 20 / 30 | 7.0 | 2.9× | – | – | 2 % | 120 MiB | – |  |')
    expect(lines[3]).toBe('| consensus | 10 | 1,000 | 2 s | 8/8 | 900 / 1,350 | 300 | 3.0× | 300 (400) | 40 | 12 % | 140 MiB | 8.5 s |  |')
    expect(lines[4]).toBe('| consensus | 25 | 1,000 | 10 s | – | – | 900 | – | – | – | – | – | – | the mesh did not form: cluster up exit 1: the mesh did not form within 250 s |')
  })

  it('says why a row is short of every epoch committed', () => {
    const r = { ...ok(7, 2, 500, 100), committed: 6, notCommitted: [{ epoch: 9, verdict: 'failed', reason: 'no block | certified' }, { epoch: 11, verdict: 'undecided', reason: 'not committed 20 s after its end' }], nodesDown: 1 }
    expect(rowNote(r)).toBe('1 failed; 1 undecided; no block \\| certified; not committed 20 s after its end; 1 node(s) down at the end')
  })

  it('shortens the coordinator\'s failure reasons for a table cell', () => {
    expect(shortReason('not committed by the finalization deadline (2026-12-01T09:23:55.000Z) after 4 attempt(s): chunks 0, 1, 2, 3, 39 never contributed'))
      .toBe('not committed by the finalization deadline after 4 attempt(s): chunks 0, …, 39 never contributed')
    expect(shortReason('chunks 3, 7 never contributed')).toBe('chunks 3, 7 never contributed')
    const long = shortReason('x'.repeat(300))
    expect(long).toHaveLength(160)
    expect(long.endsWith('…')).toBe(true)
  })

  it('plots consensus and the floor against N, the standalone baseline at N = 1', () => {
    const results = [standalone, ok(4, 2, 200, 60), ok(10, 2, 900, 150), ok(4, 10, 250, 55), noMesh]
    const series = plotSeries(results)
    expect(series.map((s) => [s.label, s.style, s.points, s.missing])).toEqual([
      ['standalone p50 (1 node), 2 s epochs, 1,000 mixnodes', 'standalone', [{ x: 1, y: 20 }], []],
      ['consensus p50, 2 s epochs, 1,000 mixnodes', 'consensus', [{ x: 4, y: 200 }, { x: 10, y: 900 }], []],
      // the floor does not depend on the epoch length: one point per N (the lower), and one for a row that did not start
      ['floor, 1,000 mixnodes', 'floor', [{ x: 4, y: 55 }, { x: 10, y: 150 }, { x: 25, y: 900 }], []],
      // the row that never formed its mesh: no point, a cross
      ['consensus p50, 10 s epochs, 1,000 mixnodes', 'consensus', [{ x: 4, y: 250 }], [25]]
    ])
    const svg = latencySvg(results)
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg.match(/<polyline /g)).toHaveLength(2)
    expect(svg).toContain('stroke-dasharray="6 4"')
    expect(svg).toContain('<title>consensus p50, 2 s epochs, 1,000 mixnodes, N=10: 900 ms</title>')
    expect(svg).toContain('<title>consensus p50, 10 s epochs, 1,000 mixnodes, N=25: no epoch committed</title>')
    // log scale: a slower point sits higher (smaller y) than a faster one
    const y = (title: string): number => Number(new RegExp(`cy="([\\d.]+)"[^>]*><title>${title}`).exec(svg)?.[1])
    expect(y('consensus p50, 2 s epochs, 1,000 mixnodes, N=10')).toBeLessThan(y('consensus p50, 2 s epochs, 1,000 mixnodes, N=4'))
  })

  it('escapes labels in the SVG', () => {
    expect(latencySvg([ok(4, 2, 200, 60)], 'a <b> & "c"')).toContain('a &lt;b&gt; &amp; &quot;c&quot;')
  })

  it('writes BENCHMARK.md with the machine, the table, the plot, the phases and the floor\'s constants', () => {
    const md = benchmarkMarkdown({
      meta: { date: '2026-12-01 10:00 UTC', commit: 'abc1234', node: 'v20.20.2', cores: 2, cpu: 'Xeon', loadavg: ['0.10', '0.20', '0.30'], plan: 'the default plan' },
      loopback: { oneWayMs: 0.03, roundTripP50Ms: 0.06, roundTripP95Ms: 0.2, roundTrips: 2000, messageBytes: 64 },
      results: [standalone, ok(4, 2, 200, 60)]
    })
    expect(md).toContain('on commit abc1234: Node v20.20.2, 2 × Xeon')
    expect(md).toContain('![epoch-end → commit latency (p50) against N')
    expect(md).toContain('| 4 | 2 s | 1,000 | 3.0 | 40 | 150 | 200 |')
    expect(md).toContain('loopback one-way latency: **0.03 ms**')
    expect(md).toContain('consensus, 10: report gossip')
    expect(md).toContain('| consensus | 4 | 1,000 | 10 | 2.0 | 20 | 62 | 31 (÷ 2) | 4.0 | 14 × 0.03 = 0.4 | **60** |')
    expect(md).toContain('| each node: averaging | 0.40 | 0.40 |')
  })

  it('replaces what lies between the README markers, and refuses when they are missing', () => {
    const text = `intro\n${README_START}\nold table\n${README_END}\noutro\n`
    expect(replaceBetween(text, README_START, README_END, 'new table')).toBe(`intro\n${README_START}\nnew table\n${README_END}\noutro\n`)
    expect(() => replaceBetween('no markers', README_START, README_END, 'x')).toThrow(/not found/)
  })
})
