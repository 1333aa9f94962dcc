import { decodeReport } from '../../../../src/epochs/report.js'
import { fromBase64, toHex } from '../../../../src/codec/bytes.js'
import { publicKeyFromPeerId } from '../../../../src/crypto/keys.js'
import type { Checker, RunContext } from '../context.js'
import { getOrNull, mapLimit, tryGetJson } from '../http.js'
import { short } from './records.js'

/**
 * What the nodes' block stores show (both apps):
 * - no double signing: across every certificate every node stores, no member signed READYs for
 *   two different hashes of one (round, creator);
 * - agreement: no two nodes delivered different blocks for one (round, creator);
 * - no sender has two different reports for one epoch across delivered blocks (rewards), except
 *   members in the deliberate `equivocate` fault mode;
 * - nothing acknowledged is lost: a block a node served at local height h stays at h (across
 *   restarts), and its height never goes backwards.
 */

interface BlockSummary { localHeight: number, hash: string, round: number, creator: string }
interface CertificateJson { blockHash: string, round: number, creator: string, signatures: Array<{ signer: string }> }
interface BlockJson { hash: string, messages: Array<{ id: string, label: string, data: string, publicKey: string }> }

const REPORT_LABEL = 'rewards/report/v1'

export class CertificatesChecker implements Checker {
  readonly name = 'no-double-signing'
  readonly intervalMs = 750
  /** node → local height → hash, as served. */
  readonly heights = new Map<string, Map<number, string>>()
  readonly #cursor = new Map<string, number>()
  readonly #slots = new Map<string, { hash: string, node: string }>()
  readonly #readies = new Map<string, { hash: string, node: string }>()
  readonly #certsFetched = new Set<string>()
  readonly #blocksFetched = new Set<string>()
  readonly #reports = new Map<string, string>()
  #names: Map<string, string> | undefined
  #signatures = 0
  #reportsChecked = 0

  #name (ctx: RunContext, peerIdOrKeyHex: string): string {
    if (this.#names == null) {
      this.#names = new Map()
      for (const m of ctx.cluster.members) {
        this.#names.set(m.peerId, m.name)
        this.#names.set(toHex(publicKeyFromPeerId(m.peerId)), m.name)
      }
    }
    return this.#names.get(peerIdOrKeyHex) ?? peerIdOrKeyHex.slice(0, 16)
  }

  /** Local heights this checker saw per node (for "epochs/blocks" counts). */
  maxHeight (node: string): number {
    return Math.max(0, ...(this.heights.get(node)?.keys() ?? []))
  }

  async poll (ctx: RunContext): Promise<void> {
    await Promise.all(ctx.cluster.names.map(async (name) => { await this.#pollNode(ctx, name) }))
  }

  /** Returns whether the node's whole store has been read. */
  async #pollNode (ctx: RunContext, node: string): Promise<boolean> {
    const c = ctx.cluster
    const p = c.node(node)
    if (!p.running || p.paused || ctx.byzantine.has(node)) return false
    const heights = this.heights.get(node) ?? new Map<number, string>()
    this.heights.set(node, heights)
    const from = this.#cursor.get(node) ?? 1
    const list = await tryGetJson<{ lastHeight: number, blocks: BlockSummary[] }>(`${c.url(node)}/ephemera/broadcast/blocks?from=${from}&order=asc&limit=200`, 3_000)
    if (list == null) return false
    const seenMax = this.maxHeight(node)
    if (list.lastHeight < seenMax) ctx.violation(this.name, `${node}: its last local height went back from ${seenMax} to ${list.lastHeight} (delivered blocks lost)`)
    const fresh: BlockSummary[] = []
    for (const b of list.blocks) {
      const before = heights.get(b.localHeight)
      if (before != null && before !== b.hash) ctx.violation(this.name, `${node}: local height ${b.localHeight} held block ${short(before)}, now ${short(b.hash)}`)
      heights.set(b.localHeight, b.hash)
      const slot = `${b.round}:${b.creator}`
      const other = this.#slots.get(slot)
      if (other == null) this.#slots.set(slot, { hash: b.hash, node })
      else if (other.hash !== b.hash) ctx.violation(this.name, `round ${b.round} of ${this.#name(ctx, b.creator)}: ${other.node} delivered ${short(other.hash)}, ${node} delivered ${short(b.hash)}`)
      if (!this.#certsFetched.has(`${node}:${b.hash}`)) fresh.push(b)
      this.#cursor.set(node, b.localHeight + 1)
    }
    await mapLimit(fresh, 4, async (b) => {
      const cert = await getOrNull<CertificateJson>(`${c.url(node)}/ephemera/broadcast/block/certificates/${b.hash}`, 3_000)
      if (cert == null) return
      this.#certsFetched.add(`${node}:${b.hash}`)
      for (const sig of cert.signatures) {
        this.#signatures++
        const key = `${cert.round}:${cert.creator}:${sig.signer}`
        const other = this.#readies.get(key)
        if (other == null) this.#readies.set(key, { hash: cert.blockHash, node })
        else if (other.hash !== cert.blockHash && !ctx.byzantine.has(this.#name(ctx, sig.signer))) {
          ctx.violation(this.name, `${this.#name(ctx, sig.signer)} signed READY for two hashes of round ${cert.round} of ${this.#name(ctx, cert.creator)}: ${short(other.hash)} (in ${other.node}'s certificate) and ${short(cert.blockHash)} (in ${node}'s)`)
        }
      }
      if (c.opts.app === 'rewards' && !this.#blocksFetched.has(b.hash)) {
        const block = await getOrNull<BlockJson>(`${c.url(node)}/ephemera/broadcast/block/${b.hash}`, 3_000)
        if (block == null) return
        this.#blocksFetched.add(b.hash)
        this.#checkReports(ctx, block)
      }
    })
    return list.blocks.length === 0 || (this.#cursor.get(node) ?? 1) > list.lastHeight
  }

  #checkReports (ctx: RunContext, block: BlockJson): void {
    for (const m of block.messages) {
      if (m.label !== REPORT_LABEL) continue
      const bytes = fromBase64(m.data)
      if (bytes == null) continue
      let report
      try {
        report = decodeReport(bytes)
      } catch {
        continue // not a report: the block's validity is the nodes' business
      }
      this.#reportsChecked++
      const sender = this.#name(ctx, toHex(report.sender))
      const key = `${report.epoch}:${sender}`
      const other = this.#reports.get(key)
      if (other == null) this.#reports.set(key, m.id)
      else if (other !== m.id && !ctx.equivocators.has(sender) && !ctx.byzantine.has(sender)) {
        ctx.violation(this.name, `${sender} has two different reports for epoch ${report.epoch} in delivered blocks (messages ${short(other)} and ${short(m.id)})`)
      }
    }
  }

  async final (ctx: RunContext): Promise<void> {
    const c = ctx.cluster
    // read every running node's store to the end
    for (let i = 0; i < 20; i++) {
      const done = await Promise.all(c.names.map(async (n) => await this.#pollNode(ctx, n)))
      if (done.every((d, j) => d || !c.node(c.names[j]!).running)) break
    }
    // and re-read every height it ever served: nothing may have moved or gone
    for (const node of c.names) {
      const p = c.node(node)
      if (!p.running || p.paused || ctx.byzantine.has(node)) continue
      const heights = this.heights.get(node) ?? new Map<number, string>()
      const now = new Map<number, string>()
      for (let from = 1; ;) {
        const list = await tryGetJson<{ lastHeight: number, blocks: BlockSummary[] }>(`${c.url(node)}/ephemera/broadcast/blocks?from=${from}&order=asc&limit=1000`, 5_000)
        if (list == null) {
          ctx.violation(this.name, `${node}: could not list its blocks at the end`)
          break
        }
        for (const b of list.blocks) now.set(b.localHeight, b.hash)
        if (list.blocks.length < 1000) break
        from = list.blocks.at(-1)!.localHeight + 1
      }
      const lost = [...heights].filter(([h, hash]) => now.get(h) !== hash)
      if (lost.length > 0) ctx.violation(this.name, `${node}: ${lost.length} block(s) it served earlier are no longer at their local height (first: height ${lost[0]![0]} held ${short(lost[0]![1])}, now ${short(now.get(lost[0]![0]))})`)
    }
  }

  summary (): string {
    const blocks = new Set([...this.#slots.values()].map((s) => s.hash)).size
    return `${blocks} blocks, ${this.#signatures} READY signatures${this.#reportsChecked > 0 ? `, ${this.#reportsChecked} reports` : ''}`
  }
}
