import { Bucket, RangePruner, type Database } from '../storage/index.js'
import { MAX_VALUE, MISSING } from '../epochs/report.js'

/**
 * Simulated mixnode uptime. Each mixnode has a base reliability (50–100 %) derived from the
 * network seed, so every node sees roughly the same mixnode; each node adds its own noise; some
 * mixnodes flap (down for whole periods, at the same times for every node). Pure: a sample is a
 * function of (seeds, mixnode, time), which keeps tests and simulations reproducible.
 */

export interface SimulatorOptions {
  mixnodes: number
  /** Shared by every node of a network. */
  networkSeed: number
  /** Differs per node (derived from its key). */
  nodeSeed: number
  /** Fraction of flapping mixnodes, in thousandths. */
  flappingPermille: number
  /** Per-node noise amplitude, in percentage points (±). */
  noise: number
}

/** 32-bit integer hash (murmur3 finaliser over a combination of the inputs). */
export function hash32 (...parts: number[]): number {
  let h = HASH_START
  for (const p of parts) h = hashStep(h, p)
  return h
}

const HASH_START = 0x9e3779b9

function hashStep (h: number, p: number): number {
  h = Math.imul(h ^ (p >>> 0), 0x85ebca6b)
  h = (h ^ (h >>> 13)) >>> 0
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** hash32(a, b, c) without an array per call (the sampler hashes every mixnode every tick). */
function hash3 (a: number, b: number, c: number): number {
  return hashStep(hashStep(hashStep(HASH_START, a), b), c)
}

/** A stable 32-bit seed from bytes (e.g. a public key). */
export function seedFromBytes (bytes: Uint8Array): number {
  let h = 0
  for (const b of bytes) h = hash32(h, b)
  return h
}

/** Base reliability of a mixnode, in percent (50..100). */
export function baseReliability (opts: Pick<SimulatorOptions, 'networkSeed'>, mixnode: number): number {
  return 50 + (hash3(opts.networkSeed, mixnode, 1) % 51)
}

export function isFlapping (opts: Pick<SimulatorOptions, 'networkSeed' | 'flappingPermille'>, mixnode: number): boolean {
  return hash3(opts.networkSeed, mixnode, 2) % 1000 < opts.flappingPermille
}

/** One sample of every mixnode's uptime (percent, 0..100) at time `ms`. */
export function sampleUptimes (opts: SimulatorOptions, ms: number): Uint8Array {
  const out = new Uint8Array(opts.mixnodes)
  const tick = Math.floor(ms / 100)
  const span = 2 * opts.noise + 1
  for (let i = 0; i < opts.mixnodes; i++) {
    if (isFlapping(opts, i)) {
      // down for whole periods of 10–40 s, in phase across nodes (the period depends on the mixnode only)
      const period = 10_000 + (hash3(opts.networkSeed, i, 3) % 30_000)
      if (Math.floor(ms / period) % 2 === 1) {
        out[i] = 0
        continue
      }
    }
    const noise = (hash3(opts.nodeSeed, tick, i) % span) - opts.noise
    out[i] = Math.max(0, Math.min(100, baseReliability(opts, i) + noise))
  }
  return out
}

const pad = (n: number): string => String(n).padStart(16, '0')

/**
 * Samples in the node's level database, one record per tick (key = time, value = one byte per
 * mixnode), so 10,000 mixnodes sampled every second cost 10 kB/s and one write per tick.
 */
export class MetricsStore {
  readonly #db: Database
  readonly #pruner: RangePruner

  constructor (db: Database) {
    this.#db = db
    this.#pruner = new RangePruner(db, Bucket.metrics)
  }

  async record (ms: number, sample: Uint8Array): Promise<void> {
    await this.#db.bucket(Bucket.metrics).put(pad(ms), sample)
  }

  /**
   * Average uptime per mixnode over samples taken in [startMs, endMs), in hundredths of a
   * percent (MISSING where there is no sample), and how many samples there were.
   */
  async averages (startMs: number, endMs: number, mixnodes: number): Promise<{ values: Uint16Array, samples: number }> {
    const sums = new Float64Array(mixnodes)
    const counts = new Uint32Array(mixnodes)
    let samples = 0
    for await (const [, sample] of this.#db.bucket(Bucket.metrics).entries({ gte: pad(startMs), lt: pad(endMs) })) {
      samples++
      const n = Math.min(mixnodes, sample.length)
      for (let i = 0; i < n; i++) {
        sums[i] = (sums[i] as number) + (sample[i] as number)
        counts[i] = (counts[i] as number) + 1
      }
    }
    const values = new Uint16Array(mixnodes)
    for (let i = 0; i < mixnodes; i++) {
      const c = counts[i] as number
      values[i] = c === 0 ? MISSING : Math.min(MAX_VALUE, Math.round(((sums[i] as number) * 100) / c))
    }
    return { values, samples }
  }

  /** Deletes samples older than `beforeMs`; returns how many. */
  async prune (beforeMs: number): Promise<number> {
    return (await this.#pruner.pruneBelow(pad(beforeMs))).length
  }
}
