import { afterEach, describe, expect, it } from 'vitest'
import { blockHash, buildBlock, membershipId, proposalSigningBytes } from '../../src/block/encoding.js'
import type { Block, ClientMessage } from '../../src/block/types.js'
import { encodeBatch, RBC_PROTOCOL } from '../../src/broadcast/wire.js'
import { ACCEPT, DefaultApplication } from '../../src/broadcast/index.js'
import type { RbcMessage } from '../../src/broadcast/machine.js'
import { NodeKey } from '../../src/crypto/keys.js'
import { clientMessage, EngineCluster, engineOptions } from '../helpers/engine-cluster.js'
import { waitFor } from '../helpers/env.js'

/**
 * A Byzantine member floods an honest node over the real transport path (frames on the RBC
 * protocol): distinct proposals for one slot, proposals for many rounds, invalid blocks, garbage.
 * What the honest node keeps stays bounded, repeated faults are logged once per interval, and
 * honest blocks still get certified.
 */

let cluster: EngineCluster | undefined

afterEach(async () => {
  await cluster?.stop()
  cluster = undefined
})

const client = NodeKey.fromSeed(new Uint8Array(32).fill(0xc2))
/** About 1 MiB of valid client messages (16 × 60 KiB). */
const bulk: ClientMessage[] = Array.from({ length: 16 }, (_, i) => clientMessage(client, 'bulk', 'x'.repeat(60 * 1024) + String(i)))

const bases = new Map<string, Block>()

/** A signed PROPOSE of the bulk block for (round, creator); createdAt makes distinct blocks of one slot. */
function proposal (keys: NodeKey[], creator: NodeKey, round: number, createdAt: number, opts: { valid: boolean }): RbcMessage {
  const tag = `${opts.valid ? 'valid' : 'invalid'}`
  let base = bases.get(tag)
  if (base == null) {
    // an invalid block: proposed under a membership id that is not the members'
    const mid = opts.valid ? membershipId(keys.map((k) => k.publicKey)) : new Uint8Array(32).fill(9)
    base = buildBlock({ round: 1, creator: creator.publicKey, height: 1, createdAt: 1, membershipId: mid }, bulk)
    bases.set(tag, base)
  }
  // the Merkle root does not depend on the header fields: reuse it
  const block: Block = { header: { ...base.header, round, height: round, createdAt }, messages: base.messages }
  const hash = blockHash(block.header)
  return { type: 'propose', block, hash, signature: creator.sign(proposalSigningBytes(round, creator.publicKey, hash)) }
}

/** Sends one frame from the Byzantine member (node 4) to node 1; resolves to whether it was accepted. */
async function send (c: EngineCluster, messages: RbcMessage[] | Uint8Array): Promise<boolean> {
  const attacker = c.net.peers.get(Buffer.from(c.keys[3]!.publicKey).toString('hex'))!
  const frame = messages instanceof Uint8Array ? messages : encodeBatch(messages.map((message, i) => ({ id: i + 1, message })))
  try {
    await attacker.request(c.keys[0]!.publicKey, RBC_PROTOCOL, frame, { timeoutMs: 10_000, maxResponseBytes: 1 << 20 })
    return true
  } catch {
    return false
  }
}

/** checkBlock calls per node (each is a full validation of a block). */
const validations = new Map<number, number>()

async function cluster3plusAttacker (options = {}): Promise<EngineCluster> {
  validations.clear()
  const c = new EngineCluster(4, {
    options,
    app: (i) => {
      const app = new DefaultApplication({ maxClockSkewMs: 300_000 })
      return { checkTx: (m) => app.checkTx(m), deliverBlock: () => {}, checkBlock: () => { validations.set(i, (validations.get(i) ?? 0) + 1); return ACCEPT } }
    }
  })
  await c.start()
  // node 4 is the attacker: its engine is stopped, its key is used directly
  await c.stopNode(3)
  c.net.up(c.keys[3]!.publicKey)
  return c
}

describe('a member flooding an honest node', () => {
  it('100 distinct signed proposals for one slot: one block kept, one evidence pair, each proposal validated at most once', async () => {
    cluster = await cluster3plusAttacker()
    const attacker = cluster.keys[3]!
    const victim = cluster.node(0)
    for (let i = 0; i < 100; i++) await send(cluster, [proposal(cluster.keys, attacker, 5, 1000 + i, { valid: true })])
    const stats = victim.engine.stats()
    expect(stats.machine.blockBytes).toBeLessThan(2 * 1024 * 1024) // the first block only (~1 MiB)
    expect(stats.machine.open).toBe(1)
    expect(stats.equivocations).toBe(1)
    expect(await victim.engine.votes.evidence()).toHaveLength(1)
    // the first proposal was validated; the 99 others were not worth it
    expect(validations.get(0)).toBe(1)
    // and the honest members still certify an honest block
    const { round } = await cluster.node(1).engine.proposeBlock({ messages: [clientMessage(client, 'honest')] })
    await waitFor(async () => (await victim.engine.store.list({ limit: 100 })).length > 0, { timeoutMs: 10_000, what: 'the honest block delivered' })
    expect(round).toBe(1)
  }, 60_000)

  it('invalid blocks are not kept at all; proposals for many rounds stop at the per-creator bounds', async () => {
    cluster = await cluster3plusAttacker({ limits: { maxOpenInstancesPerCreator: 8 } })
    const attacker = cluster.keys[3]!
    const victim = cluster.node(0)
    for (let round = 1; round <= 40; round++) await send(cluster, [proposal(cluster.keys, attacker, round, 1, { valid: false })])
    expect(victim.engine.stats().machine.blockBytes).toBe(0)
    for (let round = 100; round <= 140; round++) await send(cluster, [proposal(cluster.keys, attacker, round, 1, { valid: true })])
    const stats = victim.engine.stats()
    expect(stats.machine.open).toBeLessThanOrEqual(8)
    expect(stats.machine.blockBytes).toBeLessThanOrEqual(8 * 1.1 * 1024 * 1024)
    // 40 invalid proposals: one log line (a count follows with the next one after a minute)
    expect(victim.log.lines.filter((l) => String(l.msg).includes('refusing to echo'))).toHaveLength(1)
  }, 60_000)

  it('garbage frames are refused and logged once per interval with a count; a per-peer rate limit sheds a flood', async () => {
    cluster = await cluster3plusAttacker({ transport: { ...engineOptions().transport, peerBytesPerSecond: 64 * 1024 } })
    const victim = cluster.node(0)
    for (let i = 0; i < 500; i++) expect(await send(cluster, new Uint8Array([0xff, i & 0xff, 0x00, 0x13]))).toBe(false)
    const stats = victim.engine.stats().transport
    expect(stats.undecodable).toBe(500)
    const lines = victim.log.lines.filter((l) => l.msg === 'undecodable rbc frame')
    expect(lines).toHaveLength(1)
    // bulk over the byte rate: the bucket holds two full frames, then frames are refused
    let refused = 0
    for (let i = 0; i < 40; i++) if (!await send(cluster, [proposal(cluster.keys, cluster.keys[3]!, 500 + i, 1, { valid: true })])) refused++
    expect(refused).toBeGreaterThan(0)
    expect(victim.engine.stats().transport.rateLimited).toBe(refused)
    expect(victim.log.lines.filter((l) => String(l.msg).includes('over its byte rate')).length).toBe(1)
  }, 60_000)
})
