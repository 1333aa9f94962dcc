import { afterEach, describe, it, expect } from 'vitest'
import { MISSING } from '../../../src/epochs/report.js'
import { baseReliability, hash32, isFlapping, MetricsStore, sampleUptimes, seedFromBytes, type SimulatorOptions } from '../../../src/rewards/simulator.js'
import { Bucket } from '../../../src/storage/buckets.js'
import { Database } from '../../../src/storage/database.js'
import { key } from '../block/fixtures.js'
import { tempDir } from '../tmp.js'

const opts: SimulatorOptions = { mixnodes: 300, networkSeed: 4242, nodeSeed: 1, flappingPermille: 100, noise: 3 }

describe('hash32 and seedFromBytes', () => {
  it('are deterministic 32-bit integers that depend on every input', () => {
    expect(hash32(1, 2, 3)).toBe(hash32(1, 2, 3))
    expect(hash32(1, 2, 3)).not.toBe(hash32(1, 2, 4))
    expect(hash32(1, 2, 3)).not.toBe(hash32(3, 2, 1))
    for (const h of [hash32(), hash32(0), hash32(-1, 2 ** 40), hash32(0xffffffff)]) {
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true)
    }
    const a = key(1).publicKey
    expect(seedFromBytes(a)).toBe(seedFromBytes(Uint8Array.from(a)))
    expect(seedFromBytes(a)).not.toBe(seedFromBytes(key(2).publicKey))
  })
})

describe('sampleUptimes', () => {
  it('is deterministic for the same inputs and returns one value in 0..100 per mixnode', () => {
    for (const ms of [0, 1_234, 59_999, 1_700_000_000_000]) {
      const a = sampleUptimes(opts, ms)
      expect(a).toBeInstanceOf(Uint8Array)
      expect(a.length).toBe(300)
      expect(Array.from(sampleUptimes({ ...opts }, ms))).toEqual(Array.from(a))
      for (const v of a) expect(v).toBeLessThanOrEqual(100)
    }
  })

  it('keeps values within 0..100 even with a large noise', () => {
    const wild = { ...opts, noise: 80 }
    for (const ms of [0, 100, 200, 5_000]) {
      const sample = sampleUptimes(wild, ms)
      expect(Math.max(...sample)).toBeLessThanOrEqual(100)
      // with ±80 around 50..100 some readings must clamp at both ends
      expect(sample.some((v) => v === 100)).toBe(true)
      expect(sample.some((v) => v === 0)).toBe(true)
    }
  })

  it('gives non-flapping mixnodes base reliability ± noise, the same base for every node', () => {
    const ms = 7_000
    const a = sampleUptimes({ ...opts, nodeSeed: 1 }, ms)
    const b = sampleUptimes({ ...opts, nodeSeed: 2 }, ms)
    let differing = 0
    let checked = 0
    for (let i = 0; i < opts.mixnodes; i++) {
      if (isFlapping(opts, i)) continue
      checked++
      const base = baseReliability(opts, i)
      expect(base).toBeGreaterThanOrEqual(50)
      expect(base).toBeLessThanOrEqual(100)
      expect(Math.abs((a[i] as number) - base)).toBeLessThanOrEqual(opts.noise)
      expect(Math.abs((b[i] as number) - base)).toBeLessThanOrEqual(opts.noise)
      expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThanOrEqual(2 * opts.noise)
      if (a[i] !== b[i]) differing++
    }
    expect(checked).toBeGreaterThan(200)
    // different node seeds give different noise
    expect(differing).toBeGreaterThan(checked / 3)
  })

  it('with noise 0 every node reads exactly the same', () => {
    const quiet = { ...opts, noise: 0 }
    for (const ms of [0, 15_000, 33_333]) {
      expect(Array.from(sampleUptimes({ ...quiet, nodeSeed: 9 }, ms))).toEqual(Array.from(sampleUptimes({ ...quiet, nodeSeed: 10 }, ms)))
    }
  })

  it('the noise changes over time (per 100 ms tick) but not within one tick', () => {
    const steady = { ...opts, flappingPermille: 0 }
    const a = sampleUptimes(steady, 10_000)
    expect(Array.from(sampleUptimes(steady, 10_099))).toEqual(Array.from(a))
    const later = sampleUptimes(steady, 10_100)
    expect(Array.from(later)).not.toEqual(Array.from(a))
  })

  it('depends on the network seed for the base', () => {
    const bases1 = Array.from({ length: 50 }, (_, i) => baseReliability({ networkSeed: 1 }, i))
    const bases2 = Array.from({ length: 50 }, (_, i) => baseReliability({ networkSeed: 2 }, i))
    expect(bases1).not.toEqual(bases2)
  })

  it('flapping mixnodes read 0 for whole periods of 10–40 s, in phase for every node; non-flapping never 0', () => {
    const small = { ...opts, mixnodes: 60, flappingPermille: 250 }
    const flapping = Array.from({ length: 60 }, (_, i) => i).filter((i) => isFlapping(small, i))
    expect(flapping.length).toBeGreaterThanOrEqual(3)
    for (const i of flapping.slice(0, 4)) {
      const at = (ms: number, nodeSeed = 1): number => sampleUptimes({ ...small, mixnodes: i + 1, nodeSeed }, ms)[i] as number
      // the first down instant is the period P (up during [0, P), down during [P, 2P))
      let period = -1
      for (let ms = 0; ms <= 40_000; ms++) {
        if (at(ms) === 0) { period = ms; break }
      }
      expect(period).toBeGreaterThanOrEqual(10_000)
      expect(period).toBeLessThan(40_000)
      for (let k = 0; k < 6; k++) {
        for (const ms of [k * period, k * period + 1, k * period + Math.floor(period / 2), (k + 1) * period - 1]) {
          const down = k % 2 === 1
          for (const nodeSeed of [1, 2, 3]) {
            if (down) expect(at(ms, nodeSeed), `mixnode ${i} at ${ms} ms`).toBe(0)
            else expect(at(ms, nodeSeed), `mixnode ${i} at ${ms} ms`).toBeGreaterThan(0)
          }
        }
      }
    }
    const steady = Array.from({ length: 60 }, (_, i) => i).filter((i) => !isFlapping(small, i))
    for (let ms = 0; ms < 120_000; ms += 1_000) {
      const sample = sampleUptimes(small, ms)
      for (const i of steady) expect(sample[i]).toBeGreaterThan(0)
    }
  })

  it('flags about flappingPermille of 10,000 mixnodes as flapping', () => {
    const count = (permille: number, networkSeed = 4242): number => {
      let n = 0
      for (let i = 0; i < 10_000; i++) if (isFlapping({ networkSeed, flappingPermille: permille }, i)) n++
      return n
    }
    expect(count(0)).toBe(0)
    expect(count(1000)).toBe(10_000)
    for (const [permille, seed] of [[100, 4242], [100, 7], [50, 4242], [500, 99]] as const) {
      const expected = permille * 10
      const sigma = Math.sqrt(10_000 * (permille / 1000) * (1 - permille / 1000))
      expect(Math.abs(count(permille, seed) - expected), `${permille} ‰, seed ${seed}`).toBeLessThan(5 * sigma)
    }
  })

  it('samples 10,000 mixnodes at once (values in 0..100, mean near the 75 % base)', () => {
    const big = { ...opts, mixnodes: 10_000, flappingPermille: 0 }
    const started = performance.now()
    const sample = sampleUptimes(big, 123_456)
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(sample.length).toBe(10_000)
    let sum = 0
    for (const v of sample) {
      expect(v).toBeGreaterThanOrEqual(47)
      expect(v).toBeLessThanOrEqual(100)
      sum += v
    }
    expect(Math.abs(sum / 10_000 - 75)).toBeLessThan(2)
  })
})

describe('MetricsStore', () => {
  const open: Database[] = []
  afterEach(async () => {
    await Promise.all(open.splice(0).map(async (db) => { await db.close() }))
  })

  async function store (): Promise<{ metrics: MetricsStore, db: Database }> {
    const db = await Database.open(await tempDir())
    open.push(db)
    return { metrics: new MetricsStore(db), db }
  }

  it('averages exactly the samples with start ≤ t < end, in hundredths of a percent', async () => {
    const { metrics } = await store()
    await metrics.record(999, Uint8Array.from([0, 0, 0]))
    await metrics.record(1_000, Uint8Array.from([50, 100, 0]))
    await metrics.record(1_500, Uint8Array.from([51, 100, 1]))
    await metrics.record(1_999, Uint8Array.from([52, 100, 2]))
    await metrics.record(2_000, Uint8Array.from([100, 0, 100]))

    const all = await metrics.averages(1_000, 2_000, 3)
    expect(all.samples).toBe(3)
    expect(Array.from(all.values)).toEqual([5100, 10_000, 100])

    const two = await metrics.averages(1_000, 1_999, 3)
    expect(two.samples).toBe(2)
    expect(Array.from(two.values)).toEqual([5050, 10_000, 50])

    // the boundary sample at 2000 belongs to the next window, the one at 999 to the previous
    const next = await metrics.averages(2_000, 3_000, 3)
    expect(next.samples).toBe(1)
    expect(Array.from(next.values)).toEqual([10_000, 0, 10_000])
    const previous = await metrics.averages(0, 1_000, 3)
    expect(previous.samples).toBe(1)
    expect(Array.from(previous.values)).toEqual([0, 0, 0])
  })

  it('orders times numerically, not as text of different lengths', async () => {
    const { metrics } = await store()
    await metrics.record(9, Uint8Array.from([10]))
    await metrics.record(10, Uint8Array.from([20]))
    await metrics.record(100, Uint8Array.from([40]))
    await metrics.record(1_700_000_000_000, Uint8Array.from([80]))
    expect((await metrics.averages(9, 11, 1)).samples).toBe(2)
    expect(Array.from((await metrics.averages(10, 101, 1)).values)).toEqual([3000])
    expect(Array.from((await metrics.averages(100, 1_700_000_000_001, 1)).values)).toEqual([6000])
  })

  it('marks mixnodes without samples MISSING (0xFFFF)', async () => {
    const { metrics } = await store()
    expect(Array.from((await metrics.averages(0, 10_000, 2)).values)).toEqual([MISSING, MISSING])
    expect((await metrics.averages(0, 10_000, 2)).samples).toBe(0)
    // samples shorter than the mixnode count leave the rest MISSING
    await metrics.record(10, Uint8Array.from([70, 80]))
    await metrics.record(20, Uint8Array.from([90]))
    const r = await metrics.averages(0, 100, 4)
    expect(r.samples).toBe(2)
    expect(Array.from(r.values)).toEqual([8000, 8000, MISSING, MISSING])
    // and longer samples only contribute their first `mixnodes` values
    expect(Array.from((await metrics.averages(0, 100, 1)).values)).toEqual([8000])
  })

  it('rounds averages to hundredths and caps them at 10000', async () => {
    const { metrics } = await store()
    await metrics.record(1, Uint8Array.from([1, 100, 200]))
    await metrics.record(2, Uint8Array.from([0, 100, 255]))
    await metrics.record(3, Uint8Array.from([0, 99, 100]))
    const { values } = await metrics.averages(0, 10, 3)
    expect(Math.abs((values[0] as number) - 100 / 3)).toBeLessThanOrEqual(1)
    expect(Math.abs((values[1] as number) - 29_900 / 3)).toBeLessThanOrEqual(1)
    expect(values[2]).toBe(10_000)
  })

  it('prune removes only samples older than the cut-off', async () => {
    const { metrics, db } = await store()
    for (const t of [100, 200, 300, 400]) await metrics.record(t, Uint8Array.from([t / 10]))
    expect(await metrics.prune(300)).toBe(2)
    expect(await metrics.prune(300)).toBe(0)
    const keys: string[] = []
    for await (const k of db.bucket(Bucket.metrics).keys()) keys.push(k)
    expect(keys.map(Number)).toEqual([300, 400])
    const left = await metrics.averages(0, 1_000, 1)
    expect(left.samples).toBe(2)
    expect(Array.from(left.values)).toEqual([3500])
    expect(await metrics.prune(0)).toBe(0)
    expect(await metrics.prune(10_000)).toBe(2)
    expect((await metrics.averages(0, 10_000, 1)).values[0]).toBe(MISSING)
  })

  it('stores a 10,000-mixnode sample and averages it back', async () => {
    const { metrics } = await store()
    const sim = { ...opts, mixnodes: 10_000 }
    const s1 = sampleUptimes(sim, 1_000)
    const s2 = sampleUptimes(sim, 2_000)
    await metrics.record(1_000, s1)
    await metrics.record(2_000, s2)
    const { values, samples } = await metrics.averages(1_000, 3_000, 10_000)
    expect(samples).toBe(2)
    expect(values.length).toBe(10_000)
    for (const i of [0, 1, 4_999, 9_999]) {
      expect(values[i]).toBe(Math.round((((s1[i] as number) + (s2[i] as number)) * 100) / 2))
    }
  })
})
