import { equalBytes, fromHex, toHex } from '../codec/bytes.js'
import type { Block } from '../block/types.js'
import type { Proposal } from './rbc-types.js'

/** Bytes a block holds in memory, roughly its wire size (header, and per message its data, label, key and signature). */
export function blockBytes (block: Block): number {
  let bytes = 256
  for (const m of block.messages) bytes += m.data.length + m.label.length + 128
  return bytes
}

/** One live (undelivered) RBC instance at one member. */
export class Instance {
  readonly round: number
  /** The first signed proposal seen, and a conflicting second one (equivocation); never more. */
  first?: Proposal
  second?: Proposal
  /** Hashes whose PROPOSE failed validation (never validated twice). */
  readonly invalid = new Set<string>()
  /** Block content by hash: the echoed block, or one fetched because READYs name it (at most two). */
  readonly blocks = new Map<string, Block>()
  bytes = 0
  /** hash → senders (hex); each sender's first echo only. */
  readonly echoes = new Map<string, Set<string>>()
  readonly echoedBy = new Set<string>()
  /** hash → signer (hex) → signature; each signer's first valid READY only. */
  readonly readies = new Map<string, Map<string, Uint8Array>>()
  readonly readiedBy = new Set<string>()
  /** Signers caught signing READY for two hashes here (evidence reported once each). */
  readonly readyEquivocators = new Set<string>()
  /** What this node voted (this run or before a restart). */
  echo?: Uint8Array
  ready?: Uint8Array
  /** Whether this run has (re)sent its persisted votes. */
  resent = false
  readonly fetching = new Set<string>()
  /** Set when touched; pruneOrphans() drops orphans not touched since its previous call. */
  touched = true

  constructor (round: number) {
    this.round = round
  }

  /**
   * The signer's earlier READY here when `hash` is another one (an equivocation, reported once per
   * signer): its hash and signature.
   */
  readyConflict (signerHex: string, hash: Uint8Array): { hash: Uint8Array, signature: Uint8Array } | undefined {
    if (this.readyEquivocators.has(signerHex)) return undefined
    const h = toHex(hash)
    for (const [other, votes] of this.readies) {
      const signature = votes.get(signerHex)
      if (signature == null || other === h) continue
      this.readyEquivocators.add(signerHex)
      return { hash: fromHex(other, 32) as Uint8Array, signature }
    }
    return undefined
  }

  /** The signed proposal of `hash`, if this node saw it. */
  proposalFor (hash: Uint8Array): Proposal | undefined {
    return [this.first, this.second].find((p) => p != null && equalBytes(p.hash, hash))
  }
}

export interface DecidedEntry {
  hash: Uint8Array
  /** The proposal of the decided hash, when this node saw it. */
  proposal?: Proposal
  /** Equivocation evidence already reported for this round. */
  evidence: boolean
}

/**
 * Everything one member remembers about one creator's instances: its floor (rounds at or below
 * it are closed), the live instances above it, and the decided ones (hash only) above it.
 */
export class CreatorState {
  readonly key: Uint8Array
  readonly hex: string
  floor: number
  maxDecided = 0
  readonly instances = new Map<number, Instance>()
  readonly decided = new Map<number, DecidedEntry>()
  /** Live instances with a proposal or an own vote. */
  readonly open = new Set<number>()
  /** Live instances known only from other members' votes. */
  readonly orphans = new Set<number>()
  blockBytes = 0

  constructor (key: Uint8Array, floor: number) {
    this.key = key
    this.hex = toHex(key)
    this.floor = floor
  }

  closed (round: number): boolean {
    return round <= this.floor
  }

  create (round: number): Instance {
    const inst = new Instance(round)
    this.instances.set(round, inst)
    return inst
  }

  /** Files a live instance under open (proposal or own vote) or orphan. */
  classify (inst: Instance): void {
    const orphan = inst.first == null && inst.echo == null && inst.ready == null
    if (orphan) {
      this.orphans.add(inst.round)
      this.open.delete(inst.round)
    } else {
      this.open.add(inst.round)
      this.orphans.delete(inst.round)
    }
  }

  /** Keeps a block's content in an instance unless that would pass `maxBytes` for this creator. */
  keepBlock (inst: Instance, hash: string, block: Block, maxBytes = Number.POSITIVE_INFINITY): boolean {
    if (inst.blocks.has(hash)) return true
    const bytes = blockBytes(block)
    if (this.blockBytes + bytes > maxBytes || inst.blocks.size >= 2) return false
    inst.blocks.set(hash, block)
    inst.bytes += bytes
    this.blockBytes += bytes
    return true
  }

  /** The instance of `round` is decided: only its hash (and proposal) is kept. */
  decide (round: number, hash: Uint8Array, proposal?: Proposal): void {
    this.#remove(round)
    this.decided.set(round, { hash, proposal, evidence: false })
    this.maxDecided = Math.max(this.maxDecided, round)
  }

  restoreDecided (round: number, hash: Uint8Array, proposalSignature?: Uint8Array): void {
    if (this.closed(round)) return
    this.decided.set(round, { hash, proposal: proposalSignature == null ? undefined : { hash, signature: proposalSignature }, evidence: false })
    this.maxDecided = Math.max(this.maxDecided, round)
  }

  /** Closes every round ≤ `floor`: their instances and decisions are forgotten. */
  raiseFloor (floor: number): void {
    this.floor = floor
    for (const round of [...this.instances.keys()]) if (round <= floor) this.#remove(round)
    for (const round of [...this.decided.keys()]) if (round <= floor) this.decided.delete(round)
  }

  /** Drops orphans untouched since the previous call; returns how many. */
  /** Echo and READY counts per hash of a round's instance, or the hash it delivered. */
  status (round: number): InstanceStatus | undefined {
    const decided = this.decided.get(round)
    if (decided != null) return { echoes: {}, readies: {}, delivered: toHex(decided.hash) }
    const inst = this.instances.get(round)
    if (inst == null) return undefined
    return {
      echoes: Object.fromEntries([...inst.echoes].map(([h, s]) => [h, s.size])),
      readies: Object.fromEntries([...inst.readies].map(([h, s]) => [h, s.size]))
    }
  }

  pruneOrphans (): number {
    let dropped = 0
    for (const round of [...this.orphans]) {
      const inst = this.instances.get(round)
      if (inst != null && inst.touched) {
        inst.touched = false
        continue
      }
      this.#remove(round)
      dropped++
    }
    return dropped
  }

  #remove (round: number): void {
    const inst = this.instances.get(round)
    if (inst != null) {
      this.blockBytes -= inst.bytes
      this.instances.delete(round)
    }
    this.open.delete(round)
    this.orphans.delete(round)
  }
}

/** Echo and READY counts per hash of one instance, or the hash it delivered (diagnostics). */
export interface InstanceStatus { echoes: Record<string, number>, readies: Record<string, number>, delivered?: string }

/** Sizes of what the machine keeps over all creators (live = open + orphans). */
export function creatorsStats (creators: Iterable<CreatorState>): { open: number, orphans: number, decided: number, blockBytes: number, live: number } {
  const stats = { open: 0, orphans: 0, decided: 0, blockBytes: 0, live: 0 }
  for (const c of creators) {
    stats.open += c.open.size
    stats.orphans += c.orphans.size
    stats.decided += c.decided.size
    stats.blockBytes += c.blockBytes
    stats.live += c.instances.size
  }
  return stats
}
