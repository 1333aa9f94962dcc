/**
 * What one epoch of the rewards application puts on the wire, built with the project's own
 * encoders so that the simulation's byte counts are real: signed reports (epochs/report.ts), the
 * block a proposer assembles from them (sorted by sender, as ReportPool.messages gives them), and
 * the RBC frames of src/broadcast/wire.ts. Only the transport's framing is a stated constant.
 */
import { blockHash, buildBlock, membershipId, proposalSigningBytes } from '../../src/block/encoding.js'
import type { Block, ClientMessage } from '../../src/block/types.js'
import { messageToWire } from '../../src/block/wire.js'
import type { RbcCrypto, RbcMessage } from '../../src/broadcast/machine.js'
import { encodeBatch, encodeFetchRequest, encodeFetchResponse } from '../../src/broadcast/wire.js'
import { encodeCbor } from '../../src/codec/cbor.js'
import { toHex } from '../../src/codec/bytes.js'
import type { NodeKey } from '../../src/crypto/keys.js'
import { MAX_VALUE, parametersId, reportMessage, type ReportParameters } from '../../src/epochs/report.js'
import { checkedBlockHash } from '../helpers/rbc-fixtures.js'
import type { Rng } from './rbc-sim.js'

/** Per frame on a libp2p connection: yamux header (12) + noise length (2) + noise MAC (16). */
export const LINK_OVERHEAD = 30
/**
 * A gossipsub RPC around one published report (StrictNoSign, src/network/libp2p.ts): the topic
 * (`ephemera/rewards/reports/2`, 26 bytes), the data's length and the protobuf tags; no from,
 * seqno, signature or key. An estimate, stated in docs/SIMULATION.md.
 */
export const GOSSIP_OVERHEAD = 40
/** Envelope ids are per peer counters; a 3-byte id stands for all of them. */
const ENVELOPE_ID = 0xffff

export function simParameters (mixnodes: number, threshold: number): ReportParameters {
  return { mixnodes, aggregation: 'trimmed-mean', trimPermille: 100, minValues: 1, rewardPool: '1000000', rewardsThreshold: threshold }
}

/** One member's signed report for `epoch`: uptime per mixnode, drawn from the seeded stream. */
export function makeReport (key: NodeKey, epoch: number, parameters: ReportParameters, rng: Rng): ClientMessage {
  const values = new Uint16Array(parameters.mixnodes)
  for (let i = 0; i < values.length; i++) values[i] = 9_000 + rng.int(MAX_VALUE - 9_000 + 1)
  return reportMessage({ version: 2, epoch, sender: key.publicKey, commitment: parametersId(parameters), values }, (b) => key.sign(b), 1_700_000_000_000 + epoch)
}

export interface SimProposal {
  block: Block
  hash: Uint8Array
  signature: Uint8Array
}

/** The block a proposer builds from the reports it holds (sorted by sender key), signed. */
export function makeProposal (members: readonly Uint8Array[], creator: NodeKey, epoch: number, reports: readonly ClientMessage[]): SimProposal {
  const sorted = [...reports].sort((a, b) => (toHex(a.publicKey) < toHex(b.publicKey) ? -1 : 1))
  const block = buildBlock({ round: epoch, creator: creator.publicKey, height: epoch, createdAt: 1_700_000_000_000 + epoch, membershipId: membershipId(members) }, sorted)
  const hash = blockHash(block.header)
  return { block, hash, signature: creator.sign(proposalSigningBytes(epoch, creator.publicKey, hash)) }
}

/** Length prefix of a frame (unsigned varint). */
function prefix (bytes: number): number {
  return bytes < 0x80 ? 1 : bytes < 0x4000 ? 2 : bytes < 0x200000 ? 3 : 4
}

export const framed = (payload: number): number => payload + prefix(payload) + LINK_OVERHEAD

const frameSizes = new WeakMap<object, number>()

/** Bytes on the wire for one RBC message in its own frame: [1, [[id, message]]] (wire.ts), framed. */
export function rbcFrameBytes (message: RbcMessage): number {
  let size = frameSizes.get(message)
  if (size == null) {
    size = framed(encodeBatch([{ id: ENVELOPE_ID, message }]).length)
    frameSizes.set(message, size)
  }
  return size
}

/** Bytes on the wire for a published report (the CBOR message gossipsub carries, in its RPC). */
export function reportBytes (report: ClientMessage): number {
  return framed(encodeCbor(messageToWire(report)).length + GOSSIP_OVERHEAD)
}

export function fetchRequestBytes (round: number, creator: Uint8Array, hash: Uint8Array): number {
  return framed(encodeFetchRequest(round, creator, hash).length)
}

export function fetchResponseBytes (block: Block | undefined): number {
  if (block == null) return framed(encodeFetchResponse(undefined).length)
  let size = frameSizes.get(block)
  if (size == null) {
    size = framed(encodeFetchResponse(block).length)
    frameSizes.set(block, size)
  }
  return size
}

const STAND_IN_SIGNATURE = new Uint8Array(64)

/**
 * The RbcMachine's crypto with stand-in signatures (every signature is accepted, READYs carry 64
 * zero bytes) and the real block hash, computed once per block object: the simulation charges
 * the measured cost of each verification and signature in virtual time instead (sim-costs.ts).
 */
export function modelledCrypto (): RbcCrypto {
  const hashes = new WeakMap<Block, Uint8Array | undefined>()
  return {
    verifyProposal: () => true,
    verifyReady: () => true,
    signReady: () => STAND_IN_SIGNATURE,
    blockHash: (block) => {
      if (!hashes.has(block)) hashes.set(block, checkedBlockHash(block))
      return hashes.get(block)
    }
  }
}
