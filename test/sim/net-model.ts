/**
 * A discrete-event network for the scale simulation (epoch-sim.ts): a virtual clock (no real
 * sleeps), one-way link latency with seeded jitter, a bandwidth-limited uplink per node shared
 * fairly by the flows to its peers, and one serial processor per node (the engine's serial queue:
 * message checks, signatures and synced writes happen one after another).
 *
 *   send(from, to)  → the message joins the ones `from`'s uplink is sending; the uplink sends a
 *                     chunk (`chunkBytes`) of each in turn at `uplinkMbit`, as TCP flows and yamux
 *                     streams share a link: a block sent to 99 peers reaches them all at about the
 *                     same time, and a small vote sent after it is not stuck behind it
 *   last chunk out  → arrives latencyMs × (1 + jitter × u) later, u uniform in [0, 1) from the
 *                     seeded stream; a link never reorders (TCP)
 */
import { Rng } from './rbc-sim.js'

export interface NetworkModel {
  name: string
  /** One-way latency of every link, ms. */
  latencyMs: number
  /** Each message takes latencyMs × (1 + jitter × u) on its link, u uniform in [0, 1). */
  jitter: number
  /** Each node's uplink, Mbit/s. */
  uplinkMbit: number
  /** The uplink interleaves the flows to different peers in chunks of this many bytes. */
  chunkBytes: number
}

type Action = () => void

/** A binary min-heap of actions by (time, insertion order): equal times run in the order scheduled. */
export class EventQueue {
  #times: number[] = []
  #seqs: number[] = []
  #actions: Action[] = []
  #seq = 0
  now = 0
  /** Actions run so far. */
  steps = 0

  get size (): number {
    return this.#actions.length
  }

  at (time: number, action: Action): void {
    if (!(time >= this.now)) throw new Error(`cannot schedule at ${time}, before now (${this.now})`)
    const seq = this.#seq++
    let i = this.#actions.length
    this.#put(i, time, seq, action)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.#before(p, time, seq)) break
      this.#move(i, p)
      i = p
    }
    this.#put(i, time, seq, action)
  }

  /** Runs actions in time order until none is left or the next is after `until`; returns whether it drained. */
  run (until = Infinity): boolean {
    while (this.#actions.length > 0) {
      if ((this.#times[0] as number) > until) return false
      const action = this.#pop()
      this.steps++
      action()
    }
    return true
  }

  /** Whether entry i runs before (time, seq). */
  #before (i: number, time: number, seq: number): boolean {
    const t = this.#times[i] as number
    return t < time || (t === time && (this.#seqs[i] as number) < seq)
  }

  #move (to: number, from: number): void {
    this.#put(to, this.#times[from] as number, this.#seqs[from] as number, this.#actions[from] as Action)
  }

  #put (i: number, time: number, seq: number, action: Action): void {
    this.#times[i] = time
    this.#seqs[i] = seq
    this.#actions[i] = action
  }

  #pop (): Action {
    const top = this.#actions[0] as Action
    this.now = this.#times[0] as number
    const time = this.#times.pop() as number
    const seq = this.#seqs.pop() as number
    const action = this.#actions.pop() as Action
    const n = this.#actions.length
    if (n === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.#before(r, this.#times[l] as number, this.#seqs[l] as number) ? r : l
      if (!this.#before(c, time, seq)) break
      this.#move(i, c)
      i = c
    }
    this.#put(i, time, seq, action)
    return top
  }
}

/** A FIFO with O(1) push and shift. */
class Fifo<T> {
  #items: T[] = []
  #head = 0
  get length (): number { return this.#items.length - this.#head }
  push (x: T): void { this.#items.push(x) }
  peek (): T { return this.#items[this.#head] as T }
  shift (): T {
    const x = this.#items[this.#head++] as T
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return x
  }
}

interface Pending<M> { to: number, message: M, left: number }

export class SimNetwork<M> {
  readonly #q: EventQueue
  readonly #model: NetworkModel
  readonly #rng: Rng
  readonly #n: number
  /** Per node: the messages its uplink is sending, in round-robin order. */
  readonly #uplinks: Array<Fifo<Pending<M>>>
  readonly #busy: boolean[]
  readonly #lastArrival: Float64Array
  readonly #deliver: (from: number, to: number, message: M, at: number) => void
  /** ms per byte on an uplink. */
  readonly #msPerByte: number

  constructor (n: number, model: NetworkModel, rng: Rng, queue: EventQueue, deliver: (from: number, to: number, message: M, at: number) => void) {
    if (!(model.uplinkMbit > 0) || !(model.chunkBytes >= 1) || !(model.latencyMs >= 0) || !(model.jitter >= 0)) throw new Error(`bad network model ${JSON.stringify(model)}`)
    this.#q = queue
    this.#model = model
    this.#rng = rng
    this.#n = n
    this.#deliver = deliver
    this.#msPerByte = 8 / (model.uplinkMbit * 1000)
    this.#lastArrival = new Float64Array(n * n)
    this.#uplinks = Array.from({ length: n }, () => new Fifo<Pending<M>>())
    this.#busy = Array.from({ length: n }, () => false)
  }

  /** Queues `message` (`bytes` on the wire) from `from` to `to`, now. */
  send (from: number, to: number, message: M, bytes: number): void {
    if (from === to) throw new Error('a node does not send to itself')
    ;(this.#uplinks[from] as Fifo<Pending<M>>).push({ to, message, left: Math.max(1, bytes) })
    if (!this.#busy[from]) {
      this.#busy[from] = true
      this.#serve(from, this.#q.now)
    }
  }

  /** Sends the next chunk on `from`'s uplink from time `t`: one chunk of each waiting message in turn. */
  #serve (from: number, t: number): void {
    const ring = this.#uplinks[from] as Fifo<Pending<M>>
    if (ring.length === 0) {
      this.#busy[from] = false
      return
    }
    const head = ring.shift()
    const chunk = Math.min(head.left, this.#model.chunkBytes)
    head.left -= chunk
    const done = head.left === 0
    if (!done) ring.push(head)
    const end = t + chunk * this.#msPerByte
    this.#q.at(end, () => {
      if (done) this.#arrive(from, head, end)
      this.#serve(from, end)
    })
  }

  #arrive (from: number, p: Pending<M>, sentAt: number): void {
    const link = from * this.#n + p.to
    const at = Math.max(sentAt + this.#model.latencyMs * (1 + this.#model.jitter * this.#rng.int(1_000_000) / 1_000_000), this.#lastArrival[link] as number)
    this.#lastArrival[link] = at
    this.#q.at(at, () => { this.#deliver(from, p.to, p.message, at) })
  }
}

/**
 * One serial processor per node: work starts when the node is free and takes its cost. Returns
 * the time the work starts; the caller adds costs as it goes and hands the end back with done().
 */
export class SerialNodes {
  readonly #free: Float64Array
  /** Busy time per node, ms. */
  readonly busy: Float64Array

  constructor (n: number) {
    this.#free = new Float64Array(n)
    this.busy = new Float64Array(n)
  }

  start (node: number, now: number): number {
    return Math.max(now, this.#free[node] as number)
  }

  done (node: number, start: number, end: number): void {
    this.#free[node] = end
    this.busy[node] = (this.busy[node] as number) + end - start
  }
}
