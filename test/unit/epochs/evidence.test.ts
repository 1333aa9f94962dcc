import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { messageId, proposalSigningBytes, readySigningBytes } from '../../../src/block/encoding.js'
import { messageToJson } from '../../../src/block/json.js'
import { LIMITS, type ClientMessage } from '../../../src/block/types.js'
import { toBase64, toHex } from '../../../src/codec/bytes.js'
import { NodeKey, verifySignature } from '../../../src/crypto/keys.js'
import {
  checkEvidence, EVIDENCE_KIND_CODES, evidenceHash, evidenceSchema, reportEvidence,
  type CheckedEvidence, type EvidenceJson, type SignedVoteJson
} from '../../../src/epochs/evidence.js'
import { encodeReport, MISSING, parametersId, REPORT_LABEL, reportMessage, type Report } from '../../../src/epochs/report.js'
import { key, members, signedMessage } from '../block/fixtures.js'

const [alice, bob, carol] = members(3) as [NodeKey, NodeKey, NodeKey]
const PARAMS = { mixnodes: 3, aggregation: 'median', trimPermille: 200, minValues: 2, rewardPool: '1000', rewardsThreshold: 3 }
const T0 = 1_700_000_000_000

function report (sender: NodeKey, patch: Partial<Report> = {}): Report {
  return { version: 2, epoch: 7, sender: sender.publicKey, commitment: parametersId(PARAMS), values: Uint16Array.from([9950, MISSING, 5000]), ...patch }
}

function signedReport (signer: NodeKey, patch: Partial<Report> = {}, timestamp = T0): ClientMessage {
  return reportMessage(report(signer, patch), (b) => signer.sign(b), timestamp)
}

const h = (byte: number): Uint8Array => new Uint8Array(32).fill(byte)

function vote (kind: 'proposal' | 'ready', signer: NodeKey, fields: { round?: number, creator?: Uint8Array, hash?: Uint8Array } = {}): SignedVoteJson {
  const round = fields.round ?? 7
  const creator = fields.creator ?? signer.publicKey
  const hash = fields.hash ?? h(0xaa)
  const bytes = (kind === 'proposal' ? proposalSigningBytes : readySigningBytes)(round, creator, hash)
  return { round, creator: toHex(creator), hash: toHex(hash), signer: toHex(signer.publicKey), signature: toHex(signer.sign(bytes)) }
}

const proposals = (a: SignedVoteJson, b: SignedVoteJson): EvidenceJson => ({ kind: 'proposal-equivocation', a, b })
const readies = (a: SignedVoteJson, b: SignedVoteJson): EvidenceJson => ({ kind: 'ready-equivocation', a, b })
const swap = (e: EvidenceJson): EvidenceJson => ({ ...e, a: e.b, b: e.a }) as EvidenceJson

function check (e: unknown): CheckedEvidence {
  return checkEvidence(e, verifySignature)
}

function refusal (e: unknown): string {
  const result = check(e)
  if (result.ok) throw new Error('expected the evidence to be refused')
  return result.reason
}

/** A copy of a signature with one bit flipped. */
function flipped (signatureHex: string): string {
  const last = parseInt(signatureHex.slice(-2), 16) ^ 1
  return signatureHex.slice(0, -2) + last.toString(16).padStart(2, '0')
}

const reportPair = (): EvidenceJson => reportEvidence(signedReport(alice), signedReport(alice, { values: Uint16Array.from([9950, MISSING, 5001]) }))
const proposalPair = (): EvidenceJson => proposals(vote('proposal', alice), vote('proposal', alice, { hash: h(0xbb) }))
const readyPair = (): EvidenceJson => readies(vote('ready', bob, { creator: alice.publicKey }), vote('ready', bob, { creator: alice.publicKey, hash: h(0xbb) }))

describe('checkEvidence: accepted evidence', () => {
  it('accepts two different reports by one member for one epoch: the offender is the signer, the epoch the report epoch', () => {
    const e = reportPair()
    expect(check(e)).toEqual({ ok: true, offender: toHex(alice.publicKey), epoch: 7, hash: evidenceHash(e) })
  })

  it('accepts two reports that differ only in their parameters commitment, at different timestamps', () => {
    const e = reportEvidence(signedReport(alice), signedReport(alice, { commitment: h(0x01) }, T0 + 5))
    expect(check(e)).toMatchObject({ ok: true, offender: toHex(alice.publicKey), epoch: 7 })
  })

  it('accepts two proposals by one creator for one round with different hashes: the offender is the creator, the epoch the round', () => {
    const e = proposalPair()
    expect(check(e)).toEqual({ ok: true, offender: toHex(alice.publicKey), epoch: 7, hash: evidenceHash(e) })
  })

  it('accepts two READY votes by one signer for one (round, creator) with different hashes: the offender is the signer, not the creator', () => {
    const e = readyPair()
    expect(check(e)).toEqual({ ok: true, offender: toHex(bob.publicKey), epoch: 7, hash: evidenceHash(e) })
    // a creator's READY for its own block is a vote like any other
    expect(check(readies(vote('ready', alice), vote('ready', alice, { hash: h(0xbb) })))).toMatchObject({ ok: true, offender: toHex(alice.publicKey) })
  })

  it('accepts upper-case hex and gives the offender in lower case', () => {
    const e = readyPair() as Extract<EvidenceJson, { kind: 'ready-equivocation' }>
    const upper = (v: SignedVoteJson): SignedVoteJson => ({ ...v, signer: v.signer.toUpperCase(), hash: v.hash.toUpperCase(), signature: v.signature.toUpperCase() })
    expect(check({ ...e, a: upper(e.a), b: upper(e.b) })).toEqual(check(e))
  })

  it('accepts a body that went through JSON, and ignores unknown fields', () => {
    const e = { ...JSON.parse(JSON.stringify(reportPair())), note: 'seen on gossip' }
    expect(check(e).ok).toBe(true)
    expect(evidenceSchema.safeParse(e).success).toBe(true)
  })

  it('builds report evidence from the pool\'s messages in the HTTP API\'s message JSON', () => {
    const a = signedReport(alice)
    const b = signedReport(alice, { values: Uint16Array.from([1, 2, 3]) })
    expect(reportEvidence(a, b)).toEqual({ kind: 'report-equivocation', a: messageToJson(a), b: messageToJson(b) })
  })
})

describe('evidenceHash', () => {
  it.each([['report', reportPair], ['proposal', proposalPair], ['ready', readyPair]])('does not depend on the order of a and b (%s)', (_, make) => {
    const e = make()
    expect(evidenceHash(e)).toMatch(/^[0-9a-f]{64}$/)
    expect(evidenceHash(swap(e))).toBe(evidenceHash(e))
    expect(check(swap(e))).toEqual(check(e))
  })

  it('separates kinds and pieces of evidence', () => {
    const p = proposalPair() as Extract<EvidenceJson, { kind: 'proposal-equivocation' }>
    // the same vote JSON under another kind hashes differently
    expect(evidenceHash({ ...p, kind: 'ready-equivocation' })).not.toBe(evidenceHash(p))
    const other = proposals(p.a, vote('proposal', alice, { hash: h(0xcc) }))
    expect(evidenceHash(other)).not.toBe(evidenceHash(p))
    expect(new Set([reportPair(), proposalPair(), readyPair()].map(evidenceHash)).size).toBe(3)
  })

  it('is SHA-256 of the documented layout: tag ‖ u8(kind) ‖ the two items in ascending byte order', () => {
    const e = readyPair() as Extract<EvidenceJson, { kind: 'ready-equivocation' }>
    const item = (v: SignedVoteJson): Buffer => Buffer.concat([readySigningBytes(v.round, Buffer.from(v.creator, 'hex'), Buffer.from(v.hash, 'hex')), Buffer.from(v.signer, 'hex'), Buffer.from(v.signature, 'hex')])
    const items = [item(e.a), item(e.b)].sort(Buffer.compare)
    expect(items[0]?.length).toBe(186)
    const tag = Buffer.from('ephemera/evidence/v1', 'ascii')
    expect(evidenceHash(e)).toBe(createHash('sha256').update(Buffer.concat([Buffer.from([tag.length]), tag, Buffer.from([3]), ...items])).digest('hex'))

    const r = reportPair() as Extract<EvidenceJson, { kind: 'report-equivocation' }>
    const ids = [Buffer.from(r.a.id, 'hex'), Buffer.from(r.b.id, 'hex')].sort(Buffer.compare)
    expect(evidenceHash(r)).toBe(createHash('sha256').update(Buffer.concat([Buffer.from([tag.length]), tag, Buffer.from([1]), ...ids])).digest('hex'))
    expect(EVIDENCE_KIND_CODES).toEqual({ 'report-equivocation': 1, 'proposal-equivocation': 2, 'ready-equivocation': 3 })
  })

  it('recomputes the report items from the messages, whatever id the JSON claims', () => {
    const e = reportPair() as Extract<EvidenceJson, { kind: 'report-equivocation' }>
    expect(evidenceHash({ ...e, a: { ...e.a, id: '00'.repeat(32) } })).toBe(evidenceHash(e))
  })

  it('throws RangeError on fields that do not parse (checkEvidence refuses them instead)', () => {
    const p = proposalPair() as Extract<EvidenceJson, { kind: 'proposal-equivocation' }>
    expect(() => evidenceHash({ ...p, a: { ...p.a, hash: 'zz' } })).toThrow(RangeError)
    const r = reportPair() as Extract<EvidenceJson, { kind: 'report-equivocation' }>
    expect(() => evidenceHash({ ...r, a: { ...r.a, data: '!' } })).toThrow(RangeError)
  })
})

describe('checkEvidence: refused report evidence', () => {
  const other = { values: Uint16Array.from([1, 2, 3]) }

  it('refuses reports by different members', () => {
    expect(refusal(reportEvidence(signedReport(alice), signedReport(bob, other)))).toBe('the two reports are signed by different keys')
  })

  it('refuses reports for different epochs', () => {
    expect(refusal(reportEvidence(signedReport(alice), signedReport(alice, { ...other, epoch: 8 })))).toBe('the reports are for different epochs (7 and 8)')
  })

  it('refuses the same report signed twice (other timestamp), and one message twice: no conflict', () => {
    expect(refusal(reportEvidence(signedReport(alice), signedReport(alice, {}, T0 + 1)))).toMatch(/same report: no conflict/)
    const m = signedReport(alice)
    expect(refusal(reportEvidence(m, m))).toMatch(/same report: no conflict/)
  })

  it('refuses a bad signature on either side', () => {
    const a = signedReport(alice)
    const b = signedReport(alice, other)
    const bad: ClientMessage = { ...a, signature: Uint8Array.from(a.signature, (x, i) => (i === 0 ? x ^ 1 : x)) }
    expect(refusal(reportEvidence(bad, b))).toBe('a: signature does not verify')
    // b signed by another key but carrying alice's key and report
    const forged: ClientMessage = { ...b, signature: signedReport(bob, other).signature }
    expect(refusal(reportEvidence(a, forged))).toBe('b: signature does not verify')
  })

  it('refuses a message that is not a report: another label, or data that does not decode', () => {
    const plain = signedMessage(alice, { label: 'chat', data: encodeReport(report(alice, other)) })
    expect(refusal(reportEvidence(signedReport(alice), plain))).toBe('b: not a report (label "chat")')
    const garbage = signedMessage(alice, { label: REPORT_LABEL, data: 'hello' })
    expect(refusal(reportEvidence(garbage, signedReport(alice)))).toMatch(/^a: not a report \(/)
    const big = signedMessage(alice, { label: REPORT_LABEL, data: encodeReport(report(alice, { values: Uint16Array.from([10_001]) })) })
    expect(refusal(reportEvidence(signedReport(alice), big))).toMatch(/^b: not a report \(value 0 is 10001/)
  })

  it('refuses a report whose sender is not the key that signed it', () => {
    // alice signs a report naming bob: it is not bob's, and not a report of alice either
    const lying = reportMessage(report(bob, other), (b) => alice.sign(b), T0)
    expect(lying.publicKey).toEqual(bob.publicKey)
    const relabelled: ClientMessage = { ...lying, publicKey: alice.publicKey }
    expect(refusal(reportEvidence(signedReport(alice), relabelled))).toBe('b: the report names another sender than the key that signed it')
  })

  it('refuses version 1 reports', () => {
    expect(refusal(reportEvidence(signedReport(alice, { version: 1 }), signedReport(alice, other)))).toMatch(/^a: a version 1 report/)
  })

  it('refuses a message whose id is not its id', () => {
    const e = reportPair() as Extract<EvidenceJson, { kind: 'report-equivocation' }>
    expect(refusal({ ...e, b: { ...e.b, id: e.a.id } })).toMatch(/^b: id is not the message's id/)
  })
})

describe('checkEvidence: refused vote evidence', () => {
  for (const kind of ['proposal', 'ready'] as const) {
    const wrap = kind === 'proposal' ? proposals : readies
    const creator = kind === 'proposal' ? undefined : carol.publicKey

    it(`${kind}: refuses votes by different signers`, () => {
      expect(refusal(wrap(vote(kind, alice, { creator }), vote(kind, bob, { creator, hash: h(0xbb) })))).toBe('the two votes are signed by different keys')
    })

    it(`${kind}: refuses votes for different rounds`, () => {
      expect(refusal(wrap(vote(kind, alice, { creator }), vote(kind, alice, { creator, round: 8, hash: h(0xbb) })))).toBe('the votes are for different rounds (7 and 8)')
    })

    it(`${kind}: refuses two votes for the same hash (no conflict), even with two signatures`, () => {
      const a = vote(kind, alice, { creator })
      expect(refusal(wrap(a, a))).toBe('the two votes name the same block hash: no conflict')
      expect(refusal(wrap(a, { ...a, signature: flipped(a.signature) }))).toBe('the two votes name the same block hash: no conflict')
    })

    it(`${kind}: refuses a bad signature on either side`, () => {
      const a = vote(kind, alice, { creator })
      const b = vote(kind, alice, { creator, hash: h(0xbb) })
      expect(refusal(wrap({ ...a, signature: flipped(a.signature) }, b))).toBe('a: signature does not verify')
      expect(refusal(wrap(a, { ...b, signature: a.signature }))).toBe('b: signature does not verify')
      // a signature over the other kind's bytes does not count
      const other = kind === 'proposal' ? 'ready' : 'proposal'
      expect(refusal(wrap(a, { ...b, signature: vote(other, alice, { creator, hash: h(0xbb) }).signature }))).toBe('b: signature does not verify')
    })
  }

  it('proposal: refuses a proposal signed by another key than its creator', () => {
    const e = proposals(vote('proposal', bob, { creator: alice.publicKey }), vote('proposal', bob, { creator: alice.publicKey, hash: h(0xbb) }))
    expect(refusal(e)).toBe('a: a proposal is signed by its creator, not by another key')
  })

  it('ready: refuses votes for different creators', () => {
    expect(refusal(readies(vote('ready', bob, { creator: alice.publicKey }), vote('ready', bob, { creator: carol.publicKey, hash: h(0xbb) })))).toBe('the votes are for different creators')
  })
})

describe('checkEvidence: malformed input never throws', () => {
  const r = reportPair() as Extract<EvidenceJson, { kind: 'report-equivocation' }>
  const p = proposalPair() as Extract<EvidenceJson, { kind: 'proposal-equivocation' }>
  const throwing = Object.defineProperty({ kind: 'ready-equivocation' }, 'a', { enumerable: true, get: () => { throw new Error('boom') } })
  const hostile = new Proxy({}, { get: () => { throw new Error('trap') }, ownKeys: () => { throw new Error('trap') }, has: () => { throw new Error('trap') } })
  const cases: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a string', 'evidence'],
    ['an array', [r.a, r.b]],
    ['an empty object', {}],
    ['an unknown kind', { ...p, kind: 'double-vote' }],
    ['a kind as a number', { ...p, kind: 2 }],
    ['missing b', { kind: p.kind, a: p.a }],
    ['a round as a string', { ...p, a: { ...p.a, round: '7' } }],
    ['a timestamp as a string', { ...r, a: { ...r.a, timestamp: String(r.a.timestamp) } }],
    ['a negative round', { ...p, a: { ...p.a, round: -1 } }],
    ['a fractional round', { ...p, a: { ...p.a, round: 7.5 } }],
    ['a round above 2^53', { ...p, a: { ...p.a, round: 2 ** 53 } }],
    ['a NaN round', { ...p, a: { ...p.a, round: Number.NaN } }],
    ['a missing signer', { ...p, a: { ...p.a, signer: undefined } }],
    ['a short signature', { ...p, a: { ...p.a, signature: p.a.signature.slice(2) } }],
    ['a non-hex hash', { ...p, a: { ...p.a, hash: 'g'.repeat(64) } }],
    ['a vote where a message belongs', { ...r, a: p.a }],
    ['a message where a vote belongs', { ...p, b: r.b }],
    ['a missing message id', { ...r, a: { ...r.a, id: undefined } }],
    ['data that is not base64', { ...r, a: { ...r.a, data: 'not base64!' } }],
    ['data over the message limit', { ...r, a: { ...r.a, data: toBase64(new Uint8Array(LIMITS.dataBytes + 1)) } }],
    ['a 10 MB string', { ...r, a: { ...r.a, data: 'A'.repeat(10_000_000) } }],
    ['a huge array', { kind: p.kind, a: new Array(1_000_000).fill(p.a), b: p.b }],
    ['a label over 256 bytes', { ...r, a: { ...r.a, label: 'é'.repeat(200) } }],
    ['a throwing getter', throwing],
    ['a hostile proxy', hostile],
    ['a nested hostile proxy', { ...p, a: hostile }]
  ]

  it.each(cases)('refuses %s', (_, input) => {
    let result: CheckedEvidence | undefined
    expect(() => { result = check(input) }).not.toThrow()
    expect(result?.ok).toBe(false)
  })

  it('refuses (without throwing) when the verifier throws', () => {
    expect(checkEvidence(proposalPair(), () => { throw new Error('verifier down') })).toEqual({ ok: false, reason: 'malformed evidence: verifier down' })
  })

  it('names the first problem of the shape', () => {
    expect(refusal({ ...p, a: { ...p.a, round: '7' } })).toMatch(/^malformed evidence: a\.round: /)
    expect(evidenceSchema.safeParse({ ...r, a: { ...r.a, data: 'A'.repeat(100_000) } }).success).toBe(false)
  })

  it('never throws, and swapping a and b never changes the verdict (property)', () => {
    // a pool of signed statements: conflicting, agreeing, forged, by others, for other slots
    const reports = [signedReport(alice), signedReport(alice, { values: Uint16Array.from([1, 2, 3]) }), signedReport(alice, {}, T0 + 1), signedReport(alice, { epoch: 8 }), signedReport(bob),
      { ...signedReport(alice, { values: Uint16Array.from([4, 5, 6]) }), signature: new Uint8Array(64) }, signedMessage(alice, { label: 'chat' })].map(messageToJson)
    const votes = (kind: 'proposal' | 'ready'): SignedVoteJson[] => [vote(kind, alice), vote(kind, alice, { hash: h(0xbb) }), vote(kind, alice, { round: 8, hash: h(0xcc) }), vote(kind, bob, { hash: h(0xdd) }),
      vote(kind, alice, { creator: carol.publicKey, hash: h(0xee) }), { ...vote(kind, alice, { hash: h(0x11) }), signature: '00'.repeat(64) }]
    const items = { 'report-equivocation': reports, 'proposal-equivocation': votes('proposal'), 'ready-equivocation': votes('ready') }
    const kinds = Object.keys(items) as Array<keyof typeof items>
    fc.assert(fc.property(fc.constantFrom(...kinds), fc.nat(), fc.nat(), (kind, i, j) => {
      const pool = items[kind] as unknown[]
      const e = { kind, a: pool[i % pool.length], b: pool[j % pool.length] }
      const forward = check(e)
      const backward = check({ kind, a: e.b, b: e.a })
      expect(backward.ok).toBe(forward.ok)
      if (forward.ok) {
        expect(backward).toEqual(forward)
        expect(forward.hash).toBe(evidenceHash(e as EvidenceJson))
      }
    }), { numRuns: 300 })
    fc.assert(fc.property(fc.anything(), fc.constantFrom(...kinds), fc.anything(), (a, kind, b) => {
      expect(check({ kind, a, b }).ok).toBe(false)
      expect(check(a).ok).toBe(false)
    }), { numRuns: 300 })
  })
})

/** docs/PROTOCOL.md §8.3: the evidence vector printed there is what the code computes. */
describe('docs/PROTOCOL.md evidence vector', () => {
  it('matches the implementation', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8')
    const section = doc.slice(doc.indexOf('### 8.3 Rewards and request vectors'))
    const value = (name: string): string | undefined => new RegExp(`^${name} *= ([0-9a-f]+)$`, 'm').exec(section)?.[1]
    const signer = key(2)
    const first = reportMessage(report(signer), (b) => signer.sign(b), T0)
    const second = reportMessage(report(signer, { values: Uint16Array.from([9950, MISSING, 5001]) }), (b) => signer.sign(b), T0)
    const evidence = reportEvidence(first, second)
    expect(/^\| report message_id \| `([0-9a-f]+)`/m.exec(section)?.[1]).toBe(toHex(messageId(first)))
    expect(value('second report message_id')).toBe(toHex(messageId(second)))
    expect(value('evidence_hash')).toBe(evidenceHash(evidence))
    expect(check(evidence)).toEqual({ ok: true, offender: toHex(signer.publicKey), epoch: 7, hash: evidenceHash(evidence) })
  })
})
