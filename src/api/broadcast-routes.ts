import type { FastifyInstance } from 'fastify'
import { fromHex, toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import { blockToJson, certificateToJson, headerToJson, messageFromJson, peerIdOf, type BlockJson } from '../block/json.js'
import { inclusionProof, merkleRoot, verifyInclusion } from '../crypto/merkle.js'
import type { BroadcastEngine } from '../broadcast/index.js'
import type { BlockSummary, StoredBlock } from '../storage/index.js'
import { badRequest, notFound, parseHash, parsePositiveInt } from './params.js'

/** Most locations a message lookup lists (a message is usually in one block). */
const MAX_LOCATIONS = 16

export type DeliveredBlockJson = BlockJson & { localHeight: number, deliveredAt: string }

export function storedBlockToJson (stored: StoredBlock): DeliveredBlockJson {
  return { ...blockToJson(stored.block, fromHex(stored.hash) as Uint8Array), localHeight: stored.info.localHeight, deliveredAt: stored.info.deliveredAt }
}

/**
 * The reliable-broadcast part of the node API (README "HTTP API"), except the WebSocket push of
 * delivered blocks, which is registerWsRoutes (ws-routes.ts).
 */
export function registerBroadcastRoutes (root: FastifyInstance, engine: BroadcastEngine): void {
  void root.register(async (app) => { broadcastRoutes(app, engine) })
}

function broadcastRoutes (app: FastifyInstance, engine: BroadcastEngine): void {
  const store = engine.store
  /** A block delivered by a version that stored no summary: from its header. */
  const summaryOf = (h: StoredBlock['block']['header']): BlockSummary => ({ round: h.round, creator: toHex(h.creator), height: h.height, createdAt: h.createdAt, messageCount: h.messageCount })
  const load = async (hash: string): Promise<StoredBlock> => {
    const stored = await store.block(hash)
    if (stored == null) throw notFound(`no delivered block ${hash}`)
    return stored
  }

  app.post('/ephemera/broadcast/submit_message', async (request) => {
    const parsed = messageFromJson(request.body)
    if (!parsed.ok) throw badRequest(`invalid message: ${parsed.error}`)
    return await engine.submitMessage(parsed.value)
  })

  app.get<{ Params: { hash: string } }>('/ephemera/broadcast/block/:hash', async (request) => storedBlockToJson(await load(parseHash(request.params.hash))))

  app.get<{ Params: { height: string } }>('/ephemera/broadcast/block/height/:height', async (request) => {
    const height = parsePositiveInt(request.params.height, 'height')
    const stored = await store.atHeight(height)
    if (stored == null) throw notFound(`no block at local height ${height} (last is ${store.lastHeight})`)
    return storedBlockToJson(stored)
  })

  app.get('/ephemera/broadcast/blocks/last', async () => {
    const stored = await store.last()
    if (stored == null) throw notFound('no block delivered yet')
    return storedBlockToJson(stored)
  })

  app.get<{ Querystring: { from?: string, limit?: string, order?: string } }>('/ephemera/broadcast/blocks', async (request) => {
    const { from, limit, order } = request.query
    if (order != null && order !== 'asc' && order !== 'desc') throw badRequest('order must be "asc" or "desc"')
    const reverse = order !== 'asc'
    const entries = await store.list({ fromHeight: from == null ? undefined : parsePositiveInt(from, 'from'), limit: parsePositiveInt(limit, 'limit', 20, 1000), reverse })
    // from each block's stored summary: a list never decodes whole blocks (up to 8 MiB each)
    const blocks = await Promise.all(entries.map(async (e) => {
      const info = await store.info(e.hash)
      const s = info?.summary ?? summaryOf((await load(e.hash)).block.header)
      return { localHeight: e.height, hash: e.hash, round: s.round, creator: peerIdOf(fromHex(s.creator, 32) as Uint8Array), height: s.height, createdAt: s.createdAt, messageCount: s.messageCount, deliveredAt: info?.deliveredAt ?? '' }
    }))
    return { lastHeight: store.lastHeight, blocks }
  })

  app.get<{ Params: { hash: string } }>('/ephemera/broadcast/block/certificates/:hash', async (request) => {
    const hash = parseHash(request.params.hash)
    const certificate = await store.certificate(hash)
    if (certificate == null) throw notFound(`no delivered block ${hash}`)
    return certificateToJson(certificate)
  })

  app.get<{ Params: { hash: string } }>('/ephemera/broadcast/block/broadcast_info/:hash', async (request) => {
    const stored = await load(parseHash(request.params.hash))
    const members = await store.membership(stored.info.membershipId)
    if (members == null) throw notFound(`membership ${stored.info.membershipId} of block ${stored.hash} is not stored`)
    const n = members.length
    const f = Math.floor((n - 1) / 3)
    return {
      blockHash: stored.hash,
      round: stored.block.header.round,
      creator: peerIdOf(stored.block.header.creator),
      localHeight: stored.info.localHeight,
      deliveredAt: stored.info.deliveredAt,
      membershipId: stored.info.membershipId,
      size: n,
      maxFaulty: f,
      quorum: n - f,
      members: members.map((m) => ({ name: m.name, peerId: peerIdOf(fromHex(m.publicKey) as Uint8Array), publicKey: m.publicKey, address: m.address }))
    }
  })

  app.post<{ Body: { blockHash?: unknown, messageId?: unknown } }>('/ephemera/messages/verify', async (request) => {
    const body = request.body
    if (body == null || typeof body !== 'object') throw badRequest('body must be a JSON object {blockHash, messageId}')
    if (typeof body.blockHash !== 'string' || typeof body.messageId !== 'string') throw badRequest('blockHash and messageId must be hex strings')
    const hash = parseHash(body.blockHash)
    const id = parseHash(body.messageId, 'messageId')
    const stored = await load(hash)
    const ids = stored.block.messages.map(messageId)
    const index = ids.findIndex((m) => toHex(m) === id)
    if (index < 0) throw notFound(`message ${id} is not in block ${hash}`)
    const proof = inclusionProof(ids, index)
    const root = merkleRoot(ids)
    return {
      blockHash: hash,
      messageId: id,
      messagesRoot: toHex(stored.block.header.messagesRoot),
      verified: verifyInclusion(ids[index] as Uint8Array, proof, stored.block.header.messagesRoot) && toHex(root) === toHex(stored.block.header.messagesRoot),
      proof: { index: proof.index, treeSize: proof.treeSize, path: proof.path.map(toHex) }
    }
  })

  app.get<{ Params: { id: string } }>('/ephemera/messages/:id', async (request) => {
    const id = parseHash(request.params.id, 'message id')
    // a message is included at least once; the canonical location is the block with the lowest hash
    const locations = await store.messageLocations(id, MAX_LOCATIONS)
    const canonical = locations[0]
    if (canonical != null) {
      return { id, status: 'delivered', blockHash: canonical.block, index: canonical.index, locations: locations.map((l) => ({ blockHash: l.block, index: l.index })) }
    }
    if (engine.mempool.has(id)) return { id, status: 'pending' }
    throw notFound(`message ${id} is neither pending nor delivered on this node`)
  })

  app.get('/ephemera/broadcast/evidence', async () => ({
    evidence: (await engine.votes.evidence()).map((e) => ({
      round: e.round,
      creator: peerIdOf(e.creator),
      proposals: [e.first, e.second].map((p) => ({
        blockHash: toHex(p.hash),
        proposalSignature: toHex(p.signature),
        header: p.header == null ? null : headerToJson(p.header)
      }))
    }))
  }))

  app.get('/ephemera/broadcast/votes', async () => ({
    votes: (await engine.ownVotes()).map((v) => ({ round: v.round, creator: peerIdOf(v.creator), kind: v.kind, hash: toHex(v.hash) }))
  }))

  app.get('/ephemera/broadcast/status', async () => ({
    ...engine.stats(),
    lastHeight: store.lastHeight,
    lastProposedRound: engine.lastProposedRound,
    pendingOwnRounds: engine.pendingOwnRounds,
    membershipId: toHex(engine.membershipId),
    quorum: engine.quorum
  }))
}
