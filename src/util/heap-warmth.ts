/**
 * Keeps V8's young generation committed between bursts of work.
 *
 * After each garbage collection V8 (Node 20's V8 11.3, `Heap::ReduceNewSpaceSize`) looks at the
 * rate the process allocated at over roughly the last 5 s; under 1,000 bytes/ms it uncommits the
 * idle half of the young generation and gives its pages back to the system. A process that is idle
 * between epochs and then does an epoch's work in a burst therefore maps fresh pages at every
 * collection of the burst, one page fault per 4 KiB — measured at ~14 µs each on the machine the
 * README's figures come from, ~2,000 faults per node per 10 s epoch (README "Why 10 s epochs are
 * slower"). Allocating a little short-lived garbage at a steady rate above that threshold keeps
 * the rate up: a few arrays of at most 64 KiB every tick, dropped at the next one. The cost is the
 * allocation itself and, at 2 MiB/s, about two extra young-generation collections and ~4 ms of CPU
 * a second; with short epochs, where the rate is above the threshold anyway, it only costs, so
 * `[heap] warm_bytes_per_second` is 0 (off) unless set.
 */

/** Largest array one tick allocates: 8,000 slots of 8 bytes, well under V8's large-object size. */
const ARRAY_SLOTS = 8000
const SLOT_BYTES = 8

export interface HeapWarmthOptions {
  /** Bytes of short-lived arrays allocated per second; 0 = off. */
  bytesPerSecond: number
  /** Milliseconds between allocations (default 125). */
  tickMs?: number
}

export class HeapWarmth {
  readonly #bytesPerTick: number
  readonly #tickMs: number
  #timer: NodeJS.Timeout | undefined
  /** What the last tick allocated, held until the next one replaces it (so it is not optimised away). */
  #held: unknown[] = []

  constructor (opts: HeapWarmthOptions) {
    if (!Number.isSafeInteger(opts.bytesPerSecond) || opts.bytesPerSecond < 0) throw new RangeError(`bytesPerSecond must be a non-negative integer, got ${opts.bytesPerSecond}`)
    this.#tickMs = opts.tickMs ?? 125
    if (!Number.isSafeInteger(this.#tickMs) || this.#tickMs < 1) throw new RangeError(`tickMs must be a positive integer, got ${this.#tickMs}`)
    this.#bytesPerTick = Math.ceil((opts.bytesPerSecond * this.#tickMs) / 1000)
  }

  get running (): boolean {
    return this.#timer != null
  }

  /** Arrays the last tick allocated and still held (none once stopped). */
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
  }

  /** One tick's allocation; returns the bytes of array slots allocated. */
  tick (): number {
    const held: unknown[] = []
    let bytes = 0
    while (bytes < this.#bytesPerTick) {
      const slots = Math.min(ARRAY_SLOTS, Math.ceil((this.#bytesPerTick - bytes) / SLOT_BYTES))
      held.push(new Array<number>(slots).fill(0))
      bytes += slots * SLOT_BYTES
    }
    this.#held = held
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
