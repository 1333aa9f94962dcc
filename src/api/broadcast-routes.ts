import type { FastifyInstance } from 'fastify'
import { fromHex, toHex } from '../codec/bytes.js'
import { messageId } from '../block/encoding.js'
import { blockToJson, certificateToJson, headerToJson, messageFromJson, messageInputSchema, peerIdOf, type BlockJson } from '../block/json.js'
import { inclusionProof, merkleRoot, verifyInclusion } from '../crypto/merkle.js'
import type { BroadcastEngine } from '../broadcast/index.js'
import type { BlockSummary, StoredBlock } from '../storage/index.js'
import { badRequest, notFound, parseHash, parsePositiveInt } from './params.js'
import { answer, bodyOf, describeOnly, errors, hex32, parameters, positiveInt, route } from './openapi.js'

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
  void root.register(async (app) => {
    describeOnly(app)
    broadcastRoutes(app, engine)
  })
}

const BLOCK = 'A delivered block: `{hash, header: {version, round, creator, creatorPublicKey, height, createdAt, membershipId, messageCount, messagesRoot}, messages: [{id, timestamp, label, data, publicKey, signature}], localHeight, deliveredAt}` (message data in base64).'
const blockAnswer = answer(BLOCK, {
  hash: { type: 'string' },
  header: { type: 'object' },
  messages: { type: 'array', items: { type: 'object' } },
  localHeight: { type: 'integer', description: "The block's position in this node's delivered log." },
  deliveredAt: { type: 'string', format: 'date-time' }
})
const byHash = parameters({ hash: hex32("The block's hash.") })
const badHash = { 400: 'The hash is not 64 hex characters.' }

function broadcastRoutes (app: FastifyInstance, engine: BroadcastEngine): void {
  const store = engine.store
  /** A block delivered by a version that stored no summary: from its header. */
  const summaryOf = (h: StoredBlock['block']['header']): BlockSummary => ({ round: h.round, creator: toHex(h.creator), height: h.height, createdAt: h.createdAt, messageCount: h.messageCount })
  const load = async (hash: string): Promise<StoredBlock> => {
    const stored = await store.block(hash)
    if (stored == null) throw notFound(`no delivered block ${hash}`)
    return stored
  }

  app.post('/ephemera/broadcast/submit_message', {
    schema: route({
      summary: 'Submit a client message',
      description: 'Puts a signed message into the mempool, to be broadcast in a block. The signature covers docs/PROTOCOL.md §2.1.',
      tags: ['messages'],
      body: bodyOf(messageInputSchema, 'The signed message `{timestamp, label, data, publicKey, signature}`: `data` in base64, the Ed25519 signature over docs/PROTOCOL.md §2.1.'),
      response: {
        200: answer('Accepted into the mempool.', { id: hex32("The message's id."), status: { type: 'string', const: 'accepted' } }),
        ...errors({ 400: 'A malformed message, a bad signature or a checkTx refusal, with the reason.', 409: 'A duplicate (in the mempool or already delivered).', 429: 'The mempool is full.' })
      }
    })
  }, async (request) => {
    const parsed = messageFromJson(request.body)
    if (!parsed.ok) throw badRequest(`invalid message: ${parsed.error}`)
    return await engine.submitMessage(parsed.value)
  })

  app.get<{ Params: { hash: string } }>('/ephemera/broadcast/block/:hash', {
    schema: route({ summary: 'A delivered block by hash', tags: ['broadcast'], params: byHash, response: { 200: blockAnswer, ...errors({ ...badHash, 404: 'No delivered block with this hash.' }) } })
  }, async (request) => storedBlockToJson(await load(parseHash(request.params.hash))))

  app.get<{ Params: { height: string } }>('/ephemera/broadcast/block/height/:height', {
    schema: route({
      summary: 'A delivered block by local height',
      description: "The local height is the block's position in this node's delivered log; `header.height` is the creator's own block counter.",
      tags: ['broadcast'],
      params: parameters({ height: positiveInt('The local height.') }),
      response: { 200: blockAnswer, ...errors({ 400: 'The height is not a positive integer.', 404: 'No block at this local height.' }) }
    })
  }, async (request) => {
    const height = parsePositiveInt(request.params.height, 'height')
    const stored = await store.atHeight(height)
    if (stored == null) throw notFound(`no block at local height ${height} (last is ${store.lastHeight})`)
    return storedBlockToJson(stored)
  })

  app.get('/ephemera/broadcast/blocks/last', {
    schema: route({ summary: 'The most recently delivered block', tags: ['broadcast'], response: { 200: blockAnswer, ...errors({ 404: 'No block delivered yet.' }) } })
  }, async () => {
    const stored = await store.last()
    if (stored == null) throw notFound('no block delivered yet')
    return storedBlockToJson(stored)
  })

  app.get<{ Querystring: { from?: string, limit?: string, order?: string } }>('/ephemera/broadcast/blocks', {
    schema: route({
      summary: 'Block summaries by local height',
      description: 'Summaries of delivered blocks by local height, newest first by default (the 20 newest without parameters).',
      tags: ['broadcast'],
      querystring: parameters({
        from: positiveInt('The local height to start from (the newest when absent).'),
        limit: positiveInt('How many summaries (default 20).', 1000),
        order: { type: 'string', enum: ['asc', 'desc'], description: 'Ascending or descending local heights (default desc).' }
      }, []),
      response: {
        200: answer('The summaries.', {
          lastHeight: { type: 'integer' },
          blocks: { type: 'array', items: { type: 'object', properties: { localHeight: { type: 'integer' }, hash: { type: 'string' }, round: { type: 'integer' }, creator: { type: 'string' }, height: { type: 'integer' }, createdAt: { type: 'integer' }, messageCount: { type: 'integer' }, deliveredAt: { type: 'string' } } } }
        }),
        ...errors({ 400: 'A parameter out of range.' })
      }
    })
  }, async (request) => {
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

  app.get<{ Params: { hash: string } }>('/ephemera/broadcast/block/certificates/:hash', {
    schema: route({
      summary: "A block's certificate",
      description: 'The READY signatures that certify the block (at least a quorum): `{blockHash, round, creator, creatorPublicKey, signatures: [{signer, publicKey, signature}]}`.',
      tags: ['broadcast'],
      params: byHash,
      response: { 200: answer('The certificate.'), ...errors({ ...badHash, 404: 'No delivered block with this hash.' }) }
    })
  }, async (request) => {
    const hash = parseHash(request.params.hash)
    const certificate = await store.certificate(hash)
    if (certificate == null) throw notFound(`no delivered block ${hash}`)
    return certificateToJson(certificate)
  })

  app.get<{ Params: { hash: string } }>('/ephemera/broadcast/block/broadcast_info/:hash', {
    schema: route({
      summary: "The membership a block was certified under",
      description: '`{blockHash, round, creator, localHeight, deliveredAt, membershipId, size, maxFaulty, quorum, members: [{name, peerId, publicKey, address}]}`.',
      tags: ['broadcast'],
      params: byHash,
      response: { 200: answer('The membership.'), ...errors({ ...badHash, 404: 'No delivered block with this hash, or its membership is not stored.' }) }
    })
  }, async (request) => {
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

  app.post<{ Body: { blockHash?: unknown, messageId?: unknown } }>('/ephemera/messages/verify', {
    schema: route({
      summary: 'Prove a message is in a block',
      description: 'An RFC 6962 inclusion proof of the message in the block\'s messages root.',
      tags: ['messages'],
      body: { type: 'object', properties: { blockHash: hex32("The block's hash."), messageId: hex32("The message's id.") }, required: ['blockHash', 'messageId'] },
      response: {
        200: answer('The proof.', {
          blockHash: { type: 'string' },
          messageId: { type: 'string' },
          messagesRoot: { type: 'string' },
          verified: { type: 'boolean' },
          proof: { type: 'object', properties: { index: { type: 'integer' }, treeSize: { type: 'integer' }, path: { type: 'array', items: { type: 'string' } } } }
        }),
        ...errors({ 400: 'A malformed body or hash.', 404: 'No such block, or the message is not in it.' })
      }
    })
  }, async (request) => {
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

  app.get<{ Params: { id: string } }>('/ephemera/messages/:id', {
    schema: route({
      summary: "A message's status",
      description: 'Pending (in the mempool) or delivered. A message is included at least once: `locations` lists every delivered block holding it (up to 16), and `blockHash`/`index` name the canonical one, the block with the lowest hash (docs/PROTOCOL.md §5).',
      tags: ['messages'],
      params: parameters({ id: hex32("The message's id.") }),
      response: {
        200: answer('The status.', {
          id: { type: 'string' },
          status: { type: 'string', enum: ['pending', 'delivered'] },
          blockHash: { type: 'string' },
          index: { type: 'integer' },
          locations: { type: 'array', items: { type: 'object', properties: { blockHash: { type: 'string' }, index: { type: 'integer' } } } }
        }),
        ...errors({ 400: 'The id is not 64 hex characters.', 404: 'The node has never seen the message.' })
      }
    })
  }, async (request) => {
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

  app.get('/ephemera/broadcast/evidence', {
    schema: route({
      summary: 'Proposal equivocation evidence',
      description: 'Newest rounds first: the first pair of conflicting proposals per slot, signed by the creator (docs/PROTOCOL.md §2.5), `{evidence: [{round, creator, proposals: [{blockHash, proposalSignature, header}, …]}]}`; `header` is null when only the signature was kept.',
      tags: ['broadcast'],
      response: { 200: answer('The evidence.', { evidence: { type: 'array', items: { type: 'object' } } }) }
    })
  }, async () => ({
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

  app.get('/ephemera/broadcast/votes', {
    schema: route({
      summary: "This node's RBC votes",
      description: "This node's own persisted reliable-broadcast votes (above the creators' floors).",
      tags: ['broadcast'],
      response: { 200: answer('The votes.', { votes: { type: 'array', items: { type: 'object', properties: { round: { type: 'integer' }, creator: { type: 'string' }, kind: { type: 'string', enum: ['echo', 'ready'] }, hash: { type: 'string' } } } } }) }
    })
  }, async () => ({
    votes: (await engine.ownVotes()).map((v) => ({ round: v.round, creator: peerIdOf(v.creator), kind: v.kind, hash: toHex(v.hash) }))
  }))

  app.get('/ephemera/broadcast/status', {
    schema: route({
      summary: 'Reliable-broadcast status',
      description: 'Mempool size; delivered, proposed, rejected and synced counts; equivocations seen; live RBC instances (`openInstances`, and `machine`: open, orphans, decided kept, bytes of blocks held); block fetches running; transport counters (sent, retransmitted, queued messages and bytes, dropped, rate-limited and undecodable inbound frames); the last local height, the membership id and the quorum.',
      tags: ['broadcast'],
      response: { 200: answer('The status.') }
    })
  }, async () => ({
    ...engine.stats(),
    lastHeight: store.lastHeight,
    lastProposedRound: engine.lastProposedRound,
    pendingOwnRounds: engine.pendingOwnRounds,
    membershipId: toHex(engine.membershipId),
    quorum: engine.quorum
  }))
}
