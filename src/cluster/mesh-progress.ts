/**
 * What `cluster up` knows of a forming mesh: each node's latest answer (members connected out of
 * n − 1) and when it came. A node that answered once and then misses a poll (busy: 25 processes
 * starting on two cores can keep one from answering within the poll's timeout) keeps its latest
 * answer, marked slow; it is not reset to "starting". The mesh is complete when every node's
 * latest answer says it is connected to all others and came within `freshMs`. Pure: the caller
 * polls and passes the time.
 */

export type NodeReport =
  /** Its own process answered: connected members. */
  | { kind: 'answer', connected: number }
  /** No answer within the poll's timeout. */
  | { kind: 'silent' }
  /** The process is not running. */
  | { kind: 'down', text: string }

interface Latest {
  connected: number
  at: number
}

interface NodeState {
  latest?: Latest
  /** The last poll got no answer (the latest answer, if any, is older). */
  silent: boolean
  down?: string
}

/** Up to this many nodes the progress line lists each; beyond, a summary and the nodes behind. */
const LIST_ALL_UP_TO = 8
/** Nodes behind named in a summary line. */
const NAMED_BEHIND = 6

export class MeshProgress {
  readonly #names: readonly string[]
  readonly #freshMs: number
  readonly #state = new Map<string, NodeState>()

  constructor (names: readonly string[], opts: { freshMs: number }) {
    this.#names = names
    this.#freshMs = opts.freshMs
    for (const name of names) this.#state.set(name, { silent: false })
  }

  get #others (): number {
    return this.#names.length - 1
  }

  record (name: string, report: NodeReport, now: number): void {
    const state = this.#state.get(name)
    if (state == null) throw new Error(`not a node of this cluster: ${name}`)
    if (report.kind === 'answer') {
      state.latest = { connected: report.connected, at: now }
      state.silent = false
      state.down = undefined
    } else if (report.kind === 'silent') {
      state.silent = true
      state.down = undefined
    } else {
      state.down = report.text
      state.latest = undefined
    }
  }

  #full (state: NodeState, now: number): boolean {
    return state.down == null && state.latest != null && state.latest.connected === this.#others && now - state.latest.at <= this.#freshMs
  }

  /** Every node said, within `freshMs`, that it is connected to all the others. */
  complete (now: number): boolean {
    return this.#names.every((name) => this.#full(this.#state.get(name) as NodeState, now))
  }

  #text (name: string, now: number): string {
    const state = this.#state.get(name) as NodeState
    if (state.down != null) return `${name} ${state.down}`
    if (state.latest == null) return `${name} starting`
    const counts = `${state.latest.connected}/${this.#others}`
    return state.silent || now - state.latest.at > this.#freshMs ? `${name} ${counts} (slow)` : `${name} ${counts}`
  }

  /**
   * One line of progress: every node's state for a small cluster; for a larger one how many
   * answer, how many are connected to all others, the links seen, and the nodes behind.
   */
  line (now: number): string {
    if (this.#names.length <= LIST_ALL_UP_TO) return this.#names.map((name) => this.#text(name, now)).join(', ')
    const states = this.#names.map((name) => this.#state.get(name) as NodeState)
    const answered = states.filter((s) => s.down == null && s.latest != null).length
    const links = states.reduce((sum, s) => sum + (s.down == null ? s.latest?.connected ?? 0 : 0), 0)
    const behind = this.#names.filter((name) => !this.#full(this.#state.get(name) as NodeState, now))
    const named = behind.slice(0, NAMED_BEHIND).map((name) => this.#text(name, now))
    if (behind.length > NAMED_BEHIND) named.push(`${behind.length - NAMED_BEHIND} more`)
    const n = this.#names.length
    return `${answered}/${n} answering, ${n - behind.length}/${n} connected to all ${this.#others}, links ${links}/${n * this.#others}${named.length > 0 ? `; behind: ${named.join(', ')}` : ''}`
  }
}

/**
 * The default deadline for a mesh of `nodes` to form: 60 s up to 10 nodes, then 6 s per node
 * (every process loads and starts on the same cores, then each pair connects once).
 */
export function defaultMeshTimeoutMs (nodes: number): number {
  return Math.max(60_000, nodes * 6_000)
}
