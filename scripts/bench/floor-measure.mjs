// The work of one epoch between its end and its commit, measured on this machine by running the
// real code paths from dist/ in this process (README "Benchmark", floor model): what each node
// does, what only the proposer does, the coordinator's checks, and the synced writes on the
// critical path (through the real storage classes, in a temp dir). Each step is timed over
// several repetitions (the first two warm the JIT and are dropped); the median is kept.
// Every repetition is a new epoch with new signatures: nothing is verified from a cache the
// real process would not have warm either. With `pauseMs`, the repetitions are that far apart
// (scripts/bench-idle.mjs: the same work after a node's idle pause between epochs).
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { percentile } from './judge.mjs'

const load = (path) => import(new URL(`../../dist/src/${path}`, import.meta.url).href)

async function modules () {
  const [keys, bytes, cbor, encoding, validate, wire, rbcWire, report, record, chunks, requests, auth, anchor, chunkChecks, simulator, pool, blockCheck, storage, store] = await Promise.all([
    'crypto/keys.js', 'codec/bytes.js', 'codec/cbor.js', 'block/encoding.js', 'block/validate.js', 'block/wire.js', 'broadcast/wire.js',
    'epochs/report.js', 'epochs/record.js', 'epochs/chunks.js', 'epochs/requests.js', 'epochs/auth.js', 'contract/anchor.js',
    'contract/chunk-checks.js', 'rewards/simulator.js', 'rewards/report-pool.js', 'rewards/block-check.js', 'storage/index.js', 'contract/store.js'
  ].map(load))
  return { ...keys, ...bytes, ...cbor, ...encoding, ...validate, ...wire, ...rbcWire, ...report, ...record, ...chunks, ...requests, ...auth, ...anchor, ...chunkChecks, ...simulator, ...pool, ...blockCheck, ...storage, ...store }
}

/** Step timings by group; medians after the warm-up repetitions. */
class Steps {
  #samples = new Map()
  record = true

  async time (group, name, fn) {
    const t = performance.now()
    const out = await fn()
    this.#add(group, name, performance.now() - t)
    return out
  }

  #add (group, name, ms) {
    if (!this.record) return
    const key = `${group}\u0000${name}`
    if (!this.#samples.has(key)) this.#samples.set(key, [])
    this.#samples.get(key).push(ms)
  }

  medians () {
    const out = { node: {}, once: {}, coordinator: {}, sync: {} }
    for (const [key, samples] of this.#samples) {
      const [group, name] = key.split('\u0000')
      out[group][name] = Math.round(percentile(samples, 50) * 1000) / 1000
    }
    return out
  }
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const publicKeys = new Map()

/**
 * The coordinator's verifySignature as its own process runs it: the hash it keys its cache with,
 * then a real verification (in this process the nodes' steps have already cached the reports).
 */
function coordinatorVerify (publicKey, message, signature) {
  createHash('sha256').update(publicKey).update(signature).update(message).digest('base64')
  const id = Buffer.from(publicKey).toString('hex')
  let key = publicKeys.get(id)
  if (key == null) publicKeys.set(id, key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' }))
  return nodeVerify(null, message, key, signature)
}

const utf8 = (text) => new TextEncoder().encode(text)
const ok = (problem, what) => { if (problem != null) throw new Error(`floor measurement: ${what}: ${problem}`) }

/**
 * Measures one row's work.
 * @param {{ mode: 'consensus' | 'standalone', nodes: number, mixnodes: number, chunkSize: number, samples: number, epochMs: number, verifiersPerChunk?: number, repetitions?: number }} p
 */
export async function measureWork (p) {
  const M = await modules()
  const dir = await mkdtemp(join(tmpdir(), 'ephemera-bench-floor-'))
  const db = await M.Database.open(join(dir, 'node'))
  const coordinatorDb = await M.Database.open(join(dir, 'coordinator'))
  try {
    return await measureIn(M, p, db, coordinatorDb)
  } finally {
    await db.close().catch(() => {})
    await coordinatorDb.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

async function measureIn (M, p, db, coordinatorDb) {
  const n = p.mode === 'standalone' ? 1 : p.nodes
  const f = Math.floor((n - 1) / 3)
  const q = n - f
  const keys = Array.from({ length: n }, (_, i) => M.NodeKey.fromSeed(new Uint8Array(32).fill(0x40 + i)))
  const self = keys[0]
  const members = keys.map((k, i) => ({ name: `node${i + 1}`, publicKey: M.toHex(k.publicKey), peerId: k.peerId.toString() }))
  const memberHex = new Set(members.map((m) => m.publicKey))
  const mid = M.membershipId(keys.map((k) => k.publicKey))
  const committee = { membershipId: M.toHex(mid), members }
  const parameters = { mixnodes: p.mixnodes, mixnodeSetId: M.toHex(M.mixnodeSetId(p.mixnodes)), aggregation: 'median', trimPermille: 200, minValues: f + 1, rewardPool: '1000000', rewardsThreshold: q }
  const commitment = M.parametersId(parameters)
  const ranges = M.chunkRanges(p.mixnodes, p.chunkSize)
  const k = Math.min(p.verifiersPerChunk ?? 2, n - 1)
  const metrics = new M.MetricsStore(db)
  const votes = new M.VoteStore(db)
  const blocks = await M.BlockStore.open(db)
  const store = new M.LevelCoordinatorStore(coordinatorDb)
  const stored = members.map((m) => ({ name: m.name, publicKey: m.publicKey, address: '/ip4/127.0.0.1/tcp/1' }))
  const pool = new M.ReportPool({ mixnodes: p.mixnodes, keepInMemoryEpochs: 1000, keepStoredEpochs: 1000, keepEvidenceEpochs: 1000 }, {
    gossip: {}, network: {}, db, key: self, members: () => [], committee: () => memberHex, name: () => undefined,
    acceptsEpoch: () => true, parameters: () => parameters, onChange: () => {}, logger: { debug () {}, info () {}, warn () {} }
  })
  const steps = new Steps()
  const repetitions = p.repetitions ?? 12
  const sampleMs = Math.round(p.epochMs / p.samples)
  const pause = async (ms) => await new Promise((resolve) => setTimeout(resolve, ms))
  for (let r = 0; r < repetitions + 2; r++) {
    steps.record = r >= 2
    const epoch = 1000 + r
    const startMs = 1_700_000_000_000 + epoch * p.epochMs
    const endMs = startMs + p.epochMs
    // with pauseMs, the process is idle between repetitions as a node is between epochs, but for
    // the epoch's uptime samples, written at even intervals over the pause as the sampler does;
    // with idle too, they are all written first and the process then does nothing at all
    const paused = r > 0 && p.pauseMs > 0
    for (let s = 0; s < p.samples; s++) {
      if (paused && p.idle !== true) await pause(p.pauseMs / p.samples)
      await metrics.record(startMs + s * sampleMs, M.sampleUptimes({ mixnodes: p.mixnodes, networkSeed: 7, nodeSeed: 1, flappingPermille: 20, noise: 3 }, startMs + s * sampleMs))
    }
    if (paused && p.idle === true) await pause(p.pauseMs)
    const { values } = await steps.time('node', 'averaging the uptime samples', async () => await metrics.averages(startMs, endMs, p.mixnodes))
    const own = await steps.time('node', 'encoding and signing the report', () => {
      const message = M.reportMessage({ version: 2, epoch, sender: self.publicKey, commitment, values }, (b) => self.sign(b), endMs)
      return { message, id: M.toHex(M.messageId(message)), wire: M.encodeCbor(M.messageToWire(message)) }
    })
    await steps.time('sync', 'own report stored before it is sent (synced)', async () => await pool.add(epoch, own.message, own.id, { own: true }))
    if (p.mode === 'standalone') {
      await standaloneSteps(M, steps, { epoch, self, own, parameters, store, endMs })
      continue
    }
    await consensusSteps(M, steps, { epoch, endMs, n, q, k, keys, self, values, commitment, memberHex, mid, committee, parameters, ranges, pool, votes, blocks, stored, store, height: r + 1 })
  }
  return steps.medians()
}

async function standaloneSteps (M, steps, c) {
  const request = await steps.time('node', 'standalone submission: table, JSON, signed request', () => {
    const submission = M.standaloneSubmission(c.own.message, c.parameters)
    const body = utf8(JSON.stringify(submission))
    return { body, headers: M.signRequest(c.self.publicKey, (b) => c.self.sign(b), 'POST', `/contract/epochs/${c.epoch}/submissions`, body, c.endMs) }
  })
  await steps.time('coordinator', 'signed request: signature, nonce, JSON, shape', async () => await coordinatorRequest(M, c.store, request, `/contract/epochs/${c.epoch}/submissions`, M.submissionSchema, c.endMs))
}

async function coordinatorRequest (M, store, request, path, schema, now) {
  const verified = M.verifyRequest(request.headers, 'POST', path, request.body, now, 30_000, coordinatorVerify)
  await store.useNonce(`${M.toHex(verified.publicKey)}:${verified.nonce}`, verified.timestamp)
  const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(request.body)))
  ok(parsed.success ? undefined : parsed.error.message, 'request shape')
  return parsed.data
}

function signed (M, key, epoch, kind, body, now) {
  const bytes = utf8(JSON.stringify(body))
  return { body: bytes, headers: M.signRequest(key.publicKey, (b) => key.sign(b), 'POST', `/contract/epochs/${epoch}/chunks/${kind}`, bytes, now) }
}

async function consensusSteps (M, steps, c) {
  const { epoch, n, q, k, keys, self, ranges } = c
  const creator = self.publicKey
  // the others' reports as gossip delivers them (signed here, outside the timings)
  const incoming = keys.slice(1).map((key, i) => M.encodeCbor(M.messageToWire(M.reportMessage({ version: 2, epoch, sender: key.publicKey, commitment: c.commitment, values: c.values.map((v) => v === M.MISSING ? v : Math.max(0, v - i)) }, (b) => key.sign(b), c.endMs))))
  await steps.time('node', 'receiving the others\' reports: decode and check (gossip validator, then delivery), store', async () => {
    for (const bytes of incoming) {
      for (let pass = 0; pass < 2; pass++) {
        const message = M.messageFromWire(M.decodeCbor(bytes, 1 << 20, 'report'))
        const checked = c.pool.checkIncoming(message)
        ok(checked.ok ? undefined : checked.reason, 'incoming report')
        if (pass === 1) await c.pool.add(checked.epoch, message, checked.id)
      }
    }
  })
  const rules = { parameters: c.parameters, committee: c.memberHex, threshold: q }
  const context = { members: c.memberHex, membershipId: c.mid, verify: M.verifySignature }
  const proposal = await steps.time('once', 'building, checking, signing and encoding the block (PROPOSE to each peer)', () => {
    const block = M.buildBlock({ round: epoch, creator, height: c.height, createdAt: c.endMs, membershipId: c.mid }, c.pool.messages(epoch))
    ok(M.checkBlock(block, context), 'own block')
    ok(M.checkRewardsBlock(block, rules).reason, 'own block (application)')
    const hash = M.blockHash(block.header)
    const signature = self.sign(M.proposalSigningBytes(epoch, creator, hash))
    let frame
    for (let i = 1; i < n; i++) frame = M.encodeBatch([{ id: i, message: { type: 'propose', block, hash, signature } }])
    return { block, hash, signature, frame: frame ?? M.encodeBatch([{ id: 1, message: { type: 'propose', block, hash, signature } }]) }
  })
  await steps.time('sync', 'the proposer\'s own proposal stored before it is sent (synced)', async () => await c.votes.saveOwnProposal({ lastRound: epoch, lastHeight: c.height }, { block: proposal.block, signature: proposal.signature }))
  const hash = proposal.hash
  await steps.time('node', 'PROPOSE: decode, proposal signature, hash and Merkle root, block and report checks; ECHO to each peer', () => {
    const [item] = M.decodeBatch(proposal.frame)
    const { block } = item.message
    ok(M.verifySignature(block.header.creator, M.proposalSigningBytes(epoch, block.header.creator, item.message.hash), item.message.signature) ? undefined : 'bad', 'proposal signature')
    ok(M.equalBytes(M.messagesRoot(block.messages), block.header.messagesRoot) ? undefined : 'root', 'Merkle root')
    M.blockHash(block.header)
    ok(M.checkBlock(block, context), 'block')
    ok(M.checkRewardsBlock(block, rules).reason, 'block (application)')
    for (let i = 1; i < n; i++) M.encodeBatch([{ id: i, message: { type: 'echo', round: epoch, creator, hash } }])
  })
  await steps.time('sync', 'ECHO vote stored before it is sent (synced)', async () => await c.votes.saveVote({ round: epoch, creator, kind: 'echo', hash }))
  const echo = M.encodeBatch([{ id: 1, message: { type: 'echo', round: epoch, creator, hash } }])
  await steps.time('node', 'ECHOs: decode each peer\'s', () => { for (let i = 1; i < n; i++) M.decodeBatch(echo) })
  await steps.time('sync', 'READY vote stored before it is sent (synced)', async () => await c.votes.saveVote({ round: epoch, creator, kind: 'ready', hash }))
  const signatures = [{ signer: creator, signature: await steps.time('node', 'READY: sign, encode to each peer', () => {
    const signature = self.sign(M.readySigningBytes(epoch, creator, hash))
    for (let i = 1; i < n; i++) M.encodeBatch([{ id: i, message: { type: 'ready', round: epoch, creator, hash, signature } }])
    return signature
  }) }]
  const readies = keys.slice(1).map((key) => ({ signer: key.publicKey, signature: key.sign(M.readySigningBytes(epoch, creator, hash)) }))
  const frames = readies.map((r, i) => M.encodeBatch([{ id: i, message: { type: 'ready', round: epoch, creator, hash, signature: r.signature } }]))
  await steps.time('node', 'READYs: decode each peer\'s, verify q − 1 signatures', () => {
    for (const [i, frame] of frames.entries()) {
      const [item] = M.decodeBatch(frame)
      if (i < q - 1) ok(M.verifySignature(readies[i].signer, M.readySigningBytes(epoch, creator, item.message.hash), item.message.signature) ? undefined : 'bad', 'READY signature')
    }
  })
  signatures.push(...readies.slice(0, q - 1))
  const certificate = { round: epoch, creator, blockHash: hash, signatures }
  await steps.time('sync', 'delivery: block, certificate and indexes in one batch (synced)', async () => await c.blocks.deliver({ hash, block: proposal.block, certificate, membershipId: c.mid, members: c.stored, deliveredAt: new Date(c.endMs) }))
  const submission = await steps.time('node', 'reward table and Merkle proofs (consensusSubmission)', () => M.consensusSubmission({ block: proposal.block, hash, certificate }, c.parameters))
  const hashHex = M.toHex(hash)
  const rows = (range) => submission.rewards.slice(range.from, range.to)
  const holder = (range) => range.index % n
  const verifiers = (range) => Array.from({ length: k }, (_, j) => (range.index + 1 + j) % n)
  // every node's requests (the coordinator checks them all); node 0's are timed as a node's share
  const requests = []
  for (let i = 0; i < n; i++) {
    const key = keys[i]
    const build = () => {
      const mine = ranges.filter((range) => holder(range) === i)
      const owed = ranges.filter((range) => verifiers(range).includes(i))
      const out = []
      if (mine.length > 0) {
        // the leases are acquired by the upload itself (lock: true): no lock request
        const body = {
          blockHash: hashHex,
          lock: true,
          chunks: mine.map((range) => ({ chunk: range.index, rows: rows(range), signature: M.toHex(key.sign(M.contributionSigningBytes({ epoch, blockHash: hash, chunk: range, rowsHash: M.rowsHash(rows(range)) }))) }))
        }
        out.push({ kind: 'contributions', schema: M.contributionsSchema, body, request: signed(M, key, epoch, 'contributions', body, c.endMs) })
      }
      if (owed.length > 0) {
        out.push({ kind: 'verifications', schema: M.verificationsSchema, request: signed(M, key, epoch, 'verifications', {
          verifications: owed.map((range) => {
            const own = M.rowsHash(rows(range))
            return { chunk: range.index, ok: true, ownRowsHash: M.toHex(own), signature: M.toHex(key.sign(M.verificationSigningBytes({ epoch, blockHash: hash, chunk: range, rowsHash: own, ownRowsHash: own, ok: true }))) }
          })
        }, c.endMs) })
      }
      return out
    }
    requests.push(...(i === 0 ? await steps.time('node', 'its chunks: rows hashes, contribution and verification signatures, JSON, signed requests', build) : build()))
  }
  // one node's first contribution also carries the certified block (its reports with their proofs)
  const first = requests.find((r) => r.kind === 'contributions')
  await steps.time('once', 'the block with the first contribution: JSON, signed request', () => {
    first.request = signed(M, self, epoch, 'contributions', { ...first.body, block: { header: submission.header, certificate: submission.certificate, reports: submission.reports } }, c.endMs)
  })
  await coordinatorSteps(M, steps, { ...c, hash, hashHex, requests, holder })
}

async function coordinatorSteps (M, steps, c) {
  const { epoch, ranges } = c
  const bodies = await steps.time('coordinator', 'every signed request (contributions with their locks, verifications): signature, nonce, JSON, shape', async () => {
    const out = []
    for (const r of c.requests) out.push({ kind: r.kind, body: await coordinatorRequest(M, c.store, r.request, `/contract/epochs/${epoch}/chunks/${r.kind}`, r.schema, c.endMs) })
    return out
  })
  const contributions = bodies.filter((b) => b.kind === 'contributions').map((b) => b.body)
  const first = contributions.find((b) => b.block != null)
  const round = { epoch, attempt: 0, status: 'open', version: 1, events: [], anchor: undefined, chunks: ranges.map((r) => ({ ...r, verifiers: [], verifications: [] })) }
  const check = { committee: c.committee, parameters: c.parameters, verify: coordinatorVerify }
  let table
  await steps.time('coordinator', 'the block (first contribution): report signatures, certificate, Merkle proofs, table', () => {
    const item = first.chunks[0]
    const chunk = round.chunks[item.chunk]
    const out = M.checkContribution(check, { round, chunk, table: undefined, contributor: c.committee.members[c.holder(chunk)].publicKey, body: { blockHash: first.blockHash, rows: item.rows, signature: item.signature, block: first.block }, now: c.endMs })
    round.anchor = out.anchor
    chunk.contribution = out.contribution
    table = out.table
  })
  await steps.time('sync', 'coordinator: the round with the block and its chunks stored before answering (synced)', async () => await c.store.saveRound(round, { anchor: true, rows: first.chunks.map((x) => x.chunk) }))
  await steps.time('coordinator', 'every chunk\'s rows and signature, every verification\'s signature', () => {
    for (const body of contributions) {
      for (const item of body.chunks) {
        const chunk = round.chunks[item.chunk]
        if (chunk.contribution != null) continue
        chunk.contribution = M.checkContribution(check, { round, chunk, table, contributor: c.committee.members[c.holder(chunk)].publicKey, body: { blockHash: body.blockHash, rows: item.rows, signature: item.signature }, now: c.endMs }).contribution
      }
    }
    for (const [i, b] of bodies.entries()) {
      if (b.kind !== 'verifications') continue
      const verifier = c.requests[i].request.headers['ephemera-key']
      for (const v of b.body.verifications) M.checkVerification(check, { round, index: v.chunk, verifier, body: v, now: c.endMs })
    }
  })
}
