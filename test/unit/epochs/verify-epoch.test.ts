import { beforeAll, describe, expect, it } from 'vitest'
import { verifySignature } from '../../../src/crypto/keys.js'
import { applyDecisions } from '../../../src/epochs/committee-chain.js'
import { verifyRecord, type EpochRecordJson } from '../../../src/epochs/record.js'
import { chainLine, SINGLE_RECORD_CHAIN_NOTE, verifyChain, verifyEpoch } from '../../../src/epochs/verify-epoch.js'
import { clone, COMMITTEE, flipHexDigit, member, PARAMETERS, standaloneSubmission } from '../contract/fixtures.js'
import { blockOf, contributeAll, endOf, harness, verifyAll } from '../contract/round-driver.js'

/**
 * The one verification core `ephemera verify` and the dashboard run (src/epochs/verify-epoch.ts):
 * a record committed through the coordinator's round lifecycle passes; each kind of tampering
 * fails, the first failed check named; the committee chain is checked from genesis and the records.
 */

let record: EpochRecordJson
const NOTE = { note: SINGLE_RECORD_CHAIN_NOTE }

beforeAll(async () => {
  const h = await harness()
  h.clock.now = endOf(1) + 10
  const b = blockOf(1)
  await contributeAll(h, 1, b)
  expect(await verifyAll(h, 1, b)).toBe(true)
  record = (await h.store.record(1)) as EpochRecordJson
})

describe('verifyEpoch', () => {
  it('passes a committed record: the epoch and consensus checks first, then every check of verifyRecord, with verifyPortable by default', () => {
    const v = verifyEpoch(record, { epoch: 1, chain: NOTE })
    expect(v.ok, v.failure).toBe(true)
    expect(v.failure).toBeUndefined()
    const names = v.checks.map((c) => c.name)
    expect(names.slice(0, 2)).toEqual(['epoch', 'certified by consensus'])
    expect(names.slice(2)).toEqual(verifyRecord(record, verifySignature).checks.map((c) => c.name))
    expect(names).toEqual(expect.arrayContaining(['certificate signatures', 'Merkle inclusion', 'rewards', 'chunk signatures']))
    expect(v.signers).toBe(4)
    expect(v.committeeChain).toBeNull()
    expect(v.committeeChainNote).toBe(SINGLE_RECORD_CHAIN_NOTE)
    expect(Object.keys(v)).toEqual(['ok', 'checks', 'failure', 'signers', 'quorum', 'committeeChain', 'committeeChainNote'])
  })

  it('fails a tampered reward, signature or chunk, naming the first failed check', () => {
    const failure = (edit: (r: EpochRecordJson) => void): string | undefined => {
      const r = clone(record)
      edit(r)
      const v = verifyEpoch(r, { chain: NOTE })
      expect(v.ok).toBe(false)
      expect(v.checks.find((c) => !c.ok)?.name).toBe(v.failure?.split(':')[0])
      return v.failure
    }
    expect(failure((r) => { r.submission.rewards[3]!.reward = '5' })).toMatch(/^rewards: rewards\[3\]\.reward is "5"/)
    expect(failure((r) => { r.submission.certificate!.signatures[1]!.signature = flipHexDigit(r.submission.certificate!.signatures[1]!.signature, 5) })).toMatch(/^certificate signatures: signature 1 \(by 12D3KooW\w+\): signature does not verify$/)
    expect(failure((r) => { r.chunks![1]!.signature = flipHexDigit(r.chunks![1]!.signature) })).toBe('chunk signatures: chunk 1: the contributor\'s signature does not verify')
  })

  it('checks the epoch asked for, and refuses a standalone record unless allowed', () => {
    expect(verifyEpoch(record, { epoch: 2, chain: NOTE }).failure).toBe('epoch: the coordinator answered with the record of epoch 1')
    const standalone: EpochRecordJson = { ...clone(record), submission: standaloneSubmission(1, 0), winner: member(0) }
    delete standalone.chunks
    expect(verifyEpoch(standalone, { chain: NOTE }).failure).toBe('certified by consensus: no: a standalone submission by node1 (pass --allow-standalone to accept the baseline)')
    const allowed = verifyEpoch(standalone, { allowStandalone: true, chain: NOTE })
    expect(allowed.ok, allowed.failure).toBe(true)
    expect(allowed.checks[1]).toEqual({ name: 'certified by consensus', ok: true, detail: 'no: a standalone submission by node1 (accepted: --allow-standalone)' })
  })

  it('appends further checks (the CLI\'s --node ones) after the record\'s; the first failure wins', () => {
    const v = verifyEpoch(record, { chain: NOTE, more: [{ name: 'node\'s official record', ok: false, detail: 'differs' }] })
    expect(v.checks.at(-1)).toEqual({ name: 'node\'s official record', ok: false, detail: 'differs' })
    expect(v.failure).toBe('node\'s official record: differs')
  })

  it('a malformed record is a failed check, not a throw', () => {
    const v = verifyEpoch({ epoch: 1 } as unknown as EpochRecordJson, { chain: { genesis: COMMITTEE, records: [{ epoch: 1 } as unknown as EpochRecordJson] } })
    expect(v.ok).toBe(false)
    expect(v.checks[0]).toMatchObject({ name: 'well-formed', ok: false })
    expect(v.failure).toMatch(/^well-formed: not an epoch record: /)
    expect(v.committeeChain?.ok).toBe(false)
  })
})

describe('the committee chain', () => {
  it('passes when the record names the committee genesis gives, and says so in one line', () => {
    const v = verifyEpoch(record, { chain: { genesis: COMMITTEE, records: [record] } })
    expect(v.ok, v.failure).toBe(true)
    expect(v.committeeChain).toMatchObject({ ok: true, records: 1, changes: 0 })
    expect(v.committeeChainNote).toBeUndefined()
    expect(chainLine(v.committeeChain!)).toBe('committee chain: 0 changes over 1 record, every record\'s committee follows from genesis')
  })

  it('fails a record whose committee does not follow from genesis, after the record\'s own checks passed', () => {
    const other = applyDecisions(COMMITTEE, [{ kind: 'dropped', member: member(3), reason: 'missed epochs' }])
    const v = verifyEpoch(record, { chain: { genesis: other, records: [record] } })
    expect(v.checks.every((c) => c.ok)).toBe(true)
    expect(v.ok).toBe(false)
    expect(v.failure).toMatch(/^committee chain: committee of epoch 1: the record names committee \w+…, but genesis and the published changes give \w+…$/)
    expect(chainLine(verifyChain({ genesis: other, records: [record] }))).toMatch(/^committee chain: FAIL committee of epoch 1: /)
  })

  it('a record\'s own failure comes first', () => {
    const r = clone(record)
    r.parameters = { ...PARAMETERS, rewardPool: 'x' }
    const v = verifyEpoch(r, { chain: { genesis: applyDecisions(COMMITTEE, [{ kind: 'dropped', member: member(3), reason: 'x' }]), records: [r] } })
    expect(v.failure).toMatch(/^parameters: /)
  })
})
