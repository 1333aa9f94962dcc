/**
 * Keeps V8's young generation committed between bursts of work.
 *
 * After each garbage collection V8 (Node 20's V8 11.3, `Heap::ReduceNewSpaceSize`) looks at the
 * rate the process allocated at over roughly the last 5 s; under 1,000 bytes/ms it uncommits the
 * idle half of the young generation and gives its pages back to the system. A process that is idle
 * between epochs and then does an epoch's work in a burst therefore maps fresh pages at every
 * collection of the burst, one page fault per 4 KiB — measured at ~14 µs each on the machine the
 * README's figures come from, ~2,000 faults per node per 10 s epoch (README "Why 10 s epochs are
 * slower"). Keeping the rate up with a little short-lived garbage avoids that: every tick tops the
 * young-generation allocation since the previous tick up to `bytesPerSecond × tickMs / 1000`, in
 * arrays of at most 64 KiB that are garbage at once (the last is held until the next tick, so the
 * allocation is not optimised away). A process that allocates that much by itself (a busy one, or
 * one with short epochs) gets nothing added; an idle one, at 2 MiB/s, about two extra
 * young-generation collections and a few ms of CPU a second.
 */

import { getHeapSpaceStatistics } from 'node:v8'

/** Largest array one tick allocates: 8,000 slots of 8 bytes, well under V8's large-object size. */
const ARRAY_SLOTS = 8000
const SLOT_BYTES = 8

export interface HeapWarmthOptions {
  /** Young-generation allocation per second to keep up, with short-lived arrays; 0 = off. */
  bytesPerSecond: number
  /** Milliseconds between allocations (default 125). */
  tickMs?: number
  /** The young generation's used and available bytes (default: V8's new space); injected by tests. */
  newSpace?: () => NewSpaceUse
}

export interface NewSpaceUse {
  used: number
  available: number
}

/** V8's new space, from `v8.getHeapSpaceStatistics()`. */
export function v8NewSpace (): NewSpaceUse {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')
  return { used: space?.space_used_size ?? 0, available: space?.space_available_size ?? 0 }
}

export class HeapWarmth {
  readonly #bytesPerTick: number
  readonly #tickMs: number
  readonly #newSpace: () => NewSpaceUse
  /** The young generation after the last tick's allocation (undefined before the first tick). */
  #after: NewSpaceUse | undefined
  #timer: NodeJS.Timeout | undefined
  /**
   * The last array a tick allocated, so that the allocations are not optimised away. Only one:
   * holding a whole tick's arrays made them survive the collections of a burst and be promoted,
   * growing the old generation.
   */
  #held: unknown[] = []

  constructor (opts: HeapWarmthOptions) {
    if (!Number.isSafeInteger(opts.bytesPerSecond) || opts.bytesPerSecond < 0) throw new RangeError(`bytesPerSecond must be a non-negative integer, got ${opts.bytesPerSecond}`)
    this.#tickMs = opts.tickMs ?? 125
    if (!Number.isSafeInteger(this.#tickMs) || this.#tickMs < 1) throw new RangeError(`tickMs must be a positive integer, got ${this.#tickMs}`)
    this.#bytesPerTick = Math.ceil((opts.bytesPerSecond * this.#tickMs) / 1000)
    this.#newSpace = opts.newSpace ?? v8NewSpace
  }

  get running (): boolean {
    return this.#timer != null
  }

  /** Arrays still held: the last tick's last one (none before the first tick and once stopped). */
  get heldArrays (): number {
    return this.#held.length
  }

  /** Starts the ticks (no-op when off or already running); the timer never keeps the process alive. */
  start (): void {
    if (this.#bytesPerTick === 0 || this.#timer != null) return
    this.#timer = setInterval(() => { this.tick() }, this.#tickMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#held = []
    this.#after = undefined
  }

  /**
   * Young-generation bytes the rest of the process allocated since the last tick: the growth of
   * the new space, or, when a collection emptied it meanwhile, what was left of it then plus what
   * it holds now (a lower bound when there were several).
   */
  #allocatedSince (now: NewSpaceUse): number {
    const after = this.#after
    if (after == null) return 0
    return now.used >= after.used ? now.used - after.used : after.available + now.used
  }

  /** One tick: tops the allocation since the last tick up to the tick's share; returns the bytes of array slots allocated. */
  tick (): number {
    if (this.#bytesPerTick === 0) return 0
    const want = this.#bytesPerTick - this.#allocatedSince(this.#newSpace())
    let last: unknown[] = []
    let bytes = 0
    while (bytes < want) {
      const slots = Math.min(ARRAY_SLOTS, Math.ceil((want - bytes) / SLOT_BYTES))
      last = new Array<number>(slots).fill(0)
      bytes += slots * SLOT_BYTES
    }
    this.#held = bytes > 0 ? [last] : []
    this.#after = this.#newSpace()
    return bytes
  }
}

/** Runs `work` with a HeapWarmth at `bytesPerSecond` (0 = none) started before it and stopped after it. */
export async function withHeapWarmth<T> (bytesPerSecond: number, work: () => Promise<T>): Promise<T> {
  const warmth = new HeapWarmth({ bytesPerSecond })
  warmth.start()
  try {
    return await work()
  } finally {
    warmth.stop()
  }
}
