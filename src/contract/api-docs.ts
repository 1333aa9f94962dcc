import type { FastifySchema } from 'fastify'
import { answer, bodyOf, DOCS_TAG, errors, HEALTH_TAG, hex32, METRICS_TAG, parameters, positiveInt, route, type ApiDescription } from '../api/openapi.js'
import { HEADERS } from '../epochs/auth.js'
import { contributionSchema, contributionsSchema, locksSchema, verificationSchema, verificationsSchema } from '../epochs/requests.js'
import { submissionSchema } from '../epochs/record.js'
import { evidenceSchema } from '../epochs/evidence.js'
import { banSchema, joinSchema, unbanSchema } from '../epochs/membership-requests.js'
import { MAX_CHUNKS } from '../epochs/chunks.js'
import { DASHBOARD_TAG } from '../dashboard/index.js'

/**
 * The coordinator API's description (README "Coordinator API"): each route's schema, for
 * /openapi.json. The schemas describe; the handlers check (src/api/openapi.ts describeOnly).
 */

export const COORDINATOR_API: ApiDescription = {
  title: 'ephemera coordinator API',
  description: 'The HTTP API of the epoch coordinator ("the contract"): epochs and their committed records, the round lifecycle (chunk leases, contributions, verifications), the living committee, and operator commands. Reads are public; writes are **signed** requests (docs/PROTOCOL.md §7.5): four headers carry the signer\'s key, a timestamp, a nonce and an Ed25519 signature over the method, path, body hash, timestamp and nonce. An unsigned, badly signed, stale or replayed request gets 401, a signer that may not make it 403. Bad input gets a 4xx and faults on the server a 5xx, both with the body `{error, message}` (docs/ERRORS.md); while storage has failed every route answers 503 `ERR_STORAGE_FAILED`.',
  tags: [
    HEALTH_TAG,
    { name: 'epochs', description: 'Epochs, their committed records and their verification.' },
    { name: 'rounds', description: "An epoch's round: chunk leases, contributions, verifications, and whole submissions." },
    { name: 'membership', description: 'The living committee: committees per epoch, the queue, evidence.' },
    { name: 'admin', description: "Operator commands, signed by the operator's key (membership.admin_public_key)." },
    DASHBOARD_TAG,
    METRICS_TAG,
    DOCS_TAG
  ]
}

const signedHeaders = parameters({
  [HEADERS.key]: hex32("The signer's Ed25519 public key."),
  [HEADERS.timestamp]: { type: 'string', pattern: '^[0-9]+$', description: 'Milliseconds since the Unix epoch; a stale one is refused.' },
  [HEADERS.nonce]: { type: 'string', pattern: '^[0-9a-fA-F]{32}$', description: '16 random bytes in hex; a nonce seen before is refused (replay).' },
  [HEADERS.signature]: { type: 'string', pattern: '^[0-9a-fA-F]{128}$', description: 'Ed25519 signature over the request signing bytes (docs/PROTOCOL.md §7.5).' }
})
const signedErrors = { 401: 'Unsigned, badly signed, stale or replayed.', 403: 'The signer may not make this request.' }

const epoch = positiveInt('The epoch number.')
const epochParams = parameters({ epoch })
const chunkParams = parameters({ epoch, chunk: { type: 'integer', minimum: 0, maximum: MAX_CHUNKS - 1, description: "The chunk's index." } })
const badEpoch = { 400: 'The epoch is not a positive integer.' }
const roundErrors = { 409: 'Refused for this signer or state (ERR_LEASE_HELD, ERR_EPOCH_DECIDED).', 410: 'The epoch failed (ERR_EPOCH_FAILED).', 425: 'The epoch has not ended yet (ERR_EPOCH_NOT_READY).' }
const perChunk = answer('A result per chunk, refusals included: `{results: [{chunk, ok: true, value} | {chunk, ok: false, code, message}]}`.', { results: { type: 'array', items: { type: 'object' } } })

const signed = (summary: string, description: string, tags: string[], more: FastifySchema = {}): FastifySchema =>
  route({ summary, description, tags, headers: signedHeaders, ...more })

export const docs = {
  health: route({
    summary: "The coordinator's health",
    tags: [HEALTH_TAG.name],
    response: {
      200: answer('Health, the current epoch and the build.', {
        status: { type: 'string', const: 'ok' },
        pid: { type: 'integer' },
        genesisMs: { type: 'integer' },
        epoch: { type: 'integer' },
        build: { type: 'object', properties: { version: { type: 'string' }, node: { type: 'string' }, platform: { type: 'string' } } }
      })
    }
  }),
  epoch: route({
    summary: 'The current epoch',
    description: '`{epoch, startMs, endMs, genesisMs, epochMs}`, the `environment` (every timeout), the `parameters` (mixnodes, mixnode set id, aggregation, min values, reward pool, report threshold) and the committee\'s `{membershipId, size}`.',
    tags: ['epochs'],
    response: { 200: answer('The current epoch.') }
  }),
  committee: route({
    summary: 'The current committee',
    description: '`{membershipId, members: [{name, peerId, publicKey, multiaddrs?}]}`; `multiaddrs` is where the member listens.',
    tags: ['membership'],
    response: { 200: answer('The committee.') }
  }),
  epochs: route({
    summary: 'Epoch summaries, newest first',
    description: 'Each is `committed` (with winner, block, reports, signatures, latency, `chunks`), `open` (running), `pending` (ended, not committed yet; with its round\'s `chunks` progress) or `failed` (with the `reason`).',
    tags: ['epochs'],
    querystring: parameters({ from: positiveInt('The newest epoch to list (default: the current one).'), limit: positiveInt('How many (default 20).', 1000) }, []),
    response: { 200: answer('The summaries.', { currentEpoch: { type: 'integer' }, epochs: { type: 'array', items: { type: 'object' } } }), ...errors({ 400: 'A parameter out of range.' }) }
  }),
  record: route({
    summary: "A committed epoch's record",
    description: '`{epoch, startMs, endMs, committee, parameters, submission: {mode, blockHash, header, certificate, reports: [{message, proof}], rewards: [{mixnode, performance, values, reward}]}, winner, acceptedAt, latencyMs}`, and `committeeChange` when its commit decided one.',
    tags: ['epochs'],
    params: epochParams,
    response: { 200: answer('The record.'), ...errors({ ...badEpoch, 404: 'The epoch has no accepted submission.' }) }
  }),
  verification: route({
    summary: "Re-verify a committed epoch's record",
    description: 'The coordinator re-runs the checks of `ephemera verify` on the stored record and answers each check\'s outcome.',
    tags: ['epochs'],
    params: epochParams,
    response: { 200: answer('The verification.'), ...errors({ ...badEpoch, 404: 'The epoch has no accepted submission.' }) }
  }),
  rounds: route({
    summary: 'The open rounds',
    description: 'Per epoch its attempt, deadlines, block hash, progress, each chunk\'s lease `{holder, attempt, offeredAt, lockedAt, deadline}`, contribution (rows left out), verifiers and verifications, and the recent events.',
    tags: ['rounds'],
    response: { 200: answer('The rounds.', { rounds: { type: 'array', items: { type: 'object' } } }) }
  }),
  round: route({
    summary: "An epoch's round",
    description: 'One epoch\'s round, open or failed (as in `/contract/rounds`). With `since`, a long poll: answers once the round\'s version is above `since`, or after `waitMs`. With `member`, only what that member has to do: the chunks offered to it and not contributed, and the chunks it must still verify (contributed or not), no events, and `duties`, their digest; with `unless` set to that digest, a long poll waits for the member\'s duties to change, not the round.',
    tags: ['rounds'],
    params: epochParams,
    querystring: parameters({
      since: { type: 'integer', minimum: 0, description: 'Answer once the round\'s version is above this.' },
      waitMs: { type: 'integer', minimum: 0, maximum: 30_000, description: 'The longest wait with `since`, in ms (default 10000).' },
      member: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'A member\'s public key (hex): only its duties are listed, with `duties`, their digest.' },
      unless: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'With `member` and `since`: answer once the member\'s duties digest differs from this (or the round closes, or after `waitMs`).' }
    }, []),
    response: { 200: answer('The round.'), ...errors({ 400: 'A parameter out of range.', 404: 'No open or failed round (a committed epoch is at /contract/epochs/{epoch}).' }) }
  }),
  roundBlock: route({
    summary: "The block an open round's chunks derive from",
    description: '`{blockHash, header, certificate, reports}`: verifiers without their own copy read it here and check it.',
    tags: ['rounds'],
    params: epochParams,
    response: { 200: answer('The block.'), ...errors({ ...badEpoch, 404: 'No block fixed in an open round.' }) }
  }),
  lockMany: signed('Lock several chunks (tryLock)', 'The member offered each chunk\'s lease acquires it; one stored change, a result per chunk.', ['rounds'],
    { params: epochParams, body: bodyOf(locksSchema, 'The chunks to lock.'), response: { 200: perChunk, ...errors({ ...badEpoch, ...signedErrors, ...roundErrors }) } }),
  contributeMany: signed('Contribute several chunks (tryContribute)', 'Rows of several chunks from their lease holder; `block` (`{header, certificate, reports}`) is required on the round\'s first contribution. With `lock: true` each chunk\'s lease, when offered to the sender, is acquired in the same step (tryLock and tryContribute at once). `verifications` (as in `chunks/verifications`) are the sender\'s findings, taken in the same step after its chunks (so they may be of chunks its own first contribution has made verifiable); `committed` is true when the request committed the epoch.', ['rounds'],
    { params: epochParams, body: bodyOf(contributionsSchema, 'The contributions, and the sender\'s verifications.'), response: { 200: answer('A result per chunk contributed and per chunk verified, and whether the epoch is committed.', { results: { type: 'array', items: { type: 'object' } }, verifications: { type: 'array', items: { type: 'object' } }, committed: { type: 'boolean' } }), ...errors({ ...badEpoch, ...signedErrors, ...roundErrors }) } }),
  verifyMany: signed('Verify several chunks (tryVerify)', 'Verifications of several chunks by an assigned verifier; `committed` is true when they committed the epoch.', ['rounds'],
    { params: epochParams, body: bodyOf(verificationsSchema, 'The verifications.'), response: { 200: answer('A result per chunk, and whether the epoch is committed.', { results: { type: 'array', items: { type: 'object' } }, committed: { type: 'boolean' } }), ...errors({ ...badEpoch, ...signedErrors, ...roundErrors }) } }),
  lock: signed('Lock a chunk (tryLock)', 'The member offered chunk c\'s lease acquires it: `{epoch, attempt, chunk: {index, from, to}, lease, blockHash}`.', ['rounds'],
    { params: chunkParams, response: { 200: answer('The lease.'), ...errors({ 400: 'A malformed epoch or chunk.', ...signedErrors, ...roundErrors }) } }),
  contribute: signed('Contribute a chunk (tryContribute)', 'The chunk\'s rows from its lease holder; answers the chunk\'s `verifiers`.', ['rounds'],
    { params: chunkParams, body: bodyOf(contributionSchema, 'The contribution `{blockHash, rows, signature, block?}`.'), response: { 200: answer('Contributed.', { status: { type: 'string', const: 'contributed' }, verifiers: { type: 'array', items: { type: 'string' } } }), ...errors({ 400: 'A malformed request.', ...signedErrors, ...roundErrors, 422: 'A check failed (ERR_SUBMISSION_INVALID), named in the message.' }) } }),
  verify: signed('Verify a chunk (tryVerify)', 'An assigned verifier\'s verdict on the chunk, once the round has its block (before or after the chunk\'s contribution; a disagreeing one only after); the upload that completes the round commits the epoch.', ['rounds'],
    { params: chunkParams, body: bodyOf(verificationSchema, 'The verification `{ok, ownRowsHash, signature, detail?}`.'), response: { 200: answer('Recorded.', { status: { type: 'string', const: 'recorded' }, committed: { type: 'boolean' } }), ...errors({ 400: 'A malformed request.', ...signedErrors, ...roundErrors }) } }),
  submission: signed('Submit a whole epoch', 'A whole submission by a committee member. The first valid one is accepted; a later one gets 409 with the winning `record`; an invalid one 422 with the failed check.', ['rounds'],
    { params: epochParams, body: bodyOf(submissionSchema, 'The submission.'), response: { 200: answer('Accepted.', { status: { type: 'string', const: 'accepted' }, epoch: { type: 'integer' }, winner: { type: 'object' }, acceptedAt: { type: 'integer' }, latencyMs: { type: 'integer' } }), ...errors({ 400: 'A malformed submission.', ...signedErrors, 409: 'The epoch is decided (ERR_EPOCH_DECIDED, with the `record`).', 422: 'A check failed (ERR_SUBMISSION_INVALID).', 425: 'The epoch has not ended yet.' }) } }),
  membership: route({
    summary: 'The living committee',
    description: '`{epoch, committee, latest, changes, queue, next, removals, missed, drops, bans, locked, rules}` (README "Coordinator API"). `ephemera contract status` prints it.',
    tags: ['membership'],
    response: { 200: answer('The membership.') }
  }),
  genesis: route({
    summary: 'Round 0',
    description: 'Stored once at the first start: `{round: 0, genesisMs, committee, parameters, environment}`. The committee chain starts here (`ephemera verify`).',
    tags: ['membership'],
    response: { 200: answer('The genesis.'), ...errors({ 404: 'Not stored yet.' }) }
  }),
  committeeAt: route({
    summary: "An epoch's committee",
    description: '`final` is true once the epoch is at most one ahead of the current one (no later change can touch it).',
    tags: ['membership'],
    params: epochParams,
    response: { 200: answer('The committee.', { epoch: { type: 'integer' }, final: { type: 'boolean' }, committee: { type: 'object' } }), ...errors(badEpoch) }
  }),
  evidenceByHash: route({
    summary: 'Stored equivocation evidence',
    description: '`{hash, offender, epoch, submittedBy, submittedAt, evidence}` (docs/PROTOCOL.md §7.7), kept as long as the ban it caused.',
    tags: ['membership'],
    params: parameters({ hash: hex32("The evidence's hash.") }),
    response: { 200: answer('The evidence.'), ...errors({ 400: 'The hash is not 64 hex digits.', 404: 'No such evidence.' }) }
  }),
  join: signed('Join the queue (addToQueue)', 'Any key; the admission policy decides. Asking again updates the name and addresses. Answers `{status: "queued", position}`, `{status: "staged"}` or `{status: "member"}`.', ['membership'],
    { body: bodyOf(joinSchema, 'The name and where the validator listens.'), response: { 200: answer('Queued, staged or already a member.'), ...errors({ 400: 'A malformed request.', ...signedErrors, 429: 'The queue is full.' }) } }),
  leave: signed('Leave the queue or the committee (removeFromQueue)', 'Answers `{status: "unqueued"}` or `{status: "leaving"}` (at the next change). Body `{}`.', ['membership'],
    { response: { 200: answer('Unqueued or leaving.'), ...errors({ ...signedErrors, 404: 'The signer is neither queued nor a member.', 409: 'The committee would go below membership.min_committee.' }) } }),
  evidence: signed('Report equivocation evidence', 'Checked completely; the offender is banned at once and leaves the committee at the next change. Answers `{status: "banned", ban}`.', ['membership'],
    { body: bodyOf(evidenceSchema, 'The evidence (docs/PROTOCOL.md §7.7).'), response: { 200: answer('Banned.'), ...errors({ ...signedErrors, 409: 'The offender is already banned.', 422: 'The evidence does not hold (ERR_EVIDENCE_INVALID), naming the rule.' }) } }),
  adminLock: signed('Lock the coordinator', 'While locked, no epoch is committed (so no committee change is decided); rounds stay open. Body `{}`. Answers `{locked}`.', ['admin'],
    { response: { 200: answer('The lock.', { locked: { type: 'boolean' } }), ...errors(signedErrors) } }),
  adminUnlock: signed('Unlock the coordinator', 'Lifts the manual lock. Body `{}`. Answers `{locked}`.', ['admin'],
    { response: { 200: answer('The lock.', { locked: { type: 'boolean' } }), ...errors(signedErrors) } }),
  adminBan: signed('Ban a key', 'Refused from now on, out of the queue, and out of the committee at the next change. Answers `{status: "banned", ban}`.', ['admin'],
    { body: bodyOf(banSchema, 'The key and why.'), response: { 200: answer('Banned.'), ...errors({ 400: 'A malformed request.', ...signedErrors, 409: 'Already banned.' }) } }),
  adminUnban: signed('Lift a ban', 'Lifts the ban (and the key\'s drop count); a ban not yet applied is withdrawn. Answers `{status: "unbanned", ban}`.', ['admin'],
    { body: bodyOf(unbanSchema, 'The key.'), response: { 200: answer('Unbanned.'), ...errors({ 400: 'A malformed request.', ...signedErrors, 404: 'The key is not banned.' }) } })
} satisfies Record<string, FastifySchema>
