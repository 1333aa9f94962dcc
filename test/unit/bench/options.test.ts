import { describe, expect, it } from 'vitest'
import { DEFAULT_ROWS, meshTimeoutSeconds, parseOptions, parseRow } from '../../../scripts/bench/options.mjs'

/** The bench's command line and plan (scripts/bench/options.mjs). */
describe('bench options', () => {
  it('runs the plan of issue 11 by default, standalone baselines first, and refreshes the README', () => {
    const o = parseOptions([])
    expect(o.isDefaultPlan).toBe(true)
    expect(o.readme).toBe(true)
    const consensus = o.rows.filter((r) => r.mode === 'consensus').map((r) => `${r.nodes}@${r.epochSeconds}/${r.mixnodes}`)
    expect(consensus).toEqual(['4@2/1000', '7@2/1000', '10@2/1000', '4@10/1000', '7@10/1000', '10@10/1000', '16@10/1000', '25@10/1000', '4@10/10000', '10@10/10000'])
    expect(o.rows.slice(0, 3)).toEqual([
      { mode: 'standalone', nodes: 1, epochSeconds: 2, mixnodes: 1000, epochs: 8 },
      { mode: 'standalone', nodes: 1, epochSeconds: 10, mixnodes: 1000, epochs: 8 },
      { mode: 'standalone', nodes: 1, epochSeconds: 10, mixnodes: 10000, epochs: 8 }
    ])
    expect(DEFAULT_ROWS.split(',')).toHaveLength(10)
  })

  it('crosses --nodes, --epoch-seconds and --mixnodes; a short run leaves the README alone', () => {
    const o = parseOptions(['--nodes', '4,10', '--epoch-seconds', '2', '--epochs', '3', '--no-standalone'])
    expect(o.rows).toEqual([
      { mode: 'consensus', nodes: 4, epochSeconds: 2, mixnodes: 1000, epochs: 3 },
      { mode: 'consensus', nodes: 10, epochSeconds: 2, mixnodes: 1000, epochs: 3 }
    ])
    expect(o.isDefaultPlan).toBe(false)
    expect(o.readme).toBe(false)
    expect(parseOptions(['--nodes', '4', '--readme']).readme).toBe(true)
  })

  it('takes per-row settings: N@L[/M][xE]', () => {
    expect(parseRow('10@10/10000x6', { mixnodes: 1000, epochs: 8 })).toEqual({ mode: 'consensus', nodes: 10, epochSeconds: 10, mixnodes: 10000, epochs: 6 })
    expect(parseRow(' 4@2 ', { mixnodes: 1000, epochs: 8 })).toEqual({ mode: 'consensus', nodes: 4, epochSeconds: 2, mixnodes: 1000, epochs: 8 })
    const o = parseOptions(['--rows', '4@2,4@10/5000', '--epochs', '5'])
    expect(o.rows.map((r) => `${r.mode} ${r.nodes}@${r.epochSeconds}/${r.mixnodes}x${r.epochs}`)).toEqual([
      'standalone 1@2/1000x5', 'standalone 1@10/5000x5', 'consensus 4@2/1000x5', 'consensus 4@10/5000x5'
    ])
  })

  it('refuses what it cannot run, naming it', () => {
    expect(() => parseRow('4x2', { mixnodes: 1, epochs: 1 })).toThrow(/N@L/)
    expect(() => parseOptions(['--nodes', '0'])).toThrow(/nodes must be an integer from 1 to 200/)
    expect(() => parseOptions(['--epochs', '2.5'])).toThrow(/epochs/)
    expect(() => parseOptions(['--mixnodes', '40000'])).toThrow(/mixnodes/)
    expect(() => parseOptions(['--rows', '4@2', '--nodes', '4'])).toThrow(/either --rows/)
    expect(() => parseOptions(['--frobnicate'])).toThrow()
  })

  it('gives a larger network longer to form its mesh', () => {
    expect(meshTimeoutSeconds(4)).toBe(60)
    expect(meshTimeoutSeconds(16)).toBe(160)
    expect(meshTimeoutSeconds(25)).toBe(250)
  })
})
