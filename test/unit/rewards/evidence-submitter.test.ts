import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { evidenceHash, reportEvidence, type EvidenceJson } from '../../../src/epochs/evidence.js'
import type { CoordinatorClient } from '../../../src/rewards/coordinator-client.js'
import { EvidenceSubmitter, type EvidenceEvent } from '../../../src/rewards/evidence-submitter.js'
import { toHex } from '../../../src/codec/bytes.js'
import { KEYS } from '../contract/fixtures.js'
import { memberReport } from '../contract/fixtures.js'

/** Sending equivocation evidence: only what proves something, once, retried while the coordinator is away, bounded. */

function fakeClient (answer: () => Promise<boolean>): { client: CoordinatorClient, sent: EvidenceJson[] } {
  const sent: EvidenceJson[] = []
  return { sent, client: { evidence: async (e: EvidenceJson) => { sent.push(e); return await answer() } } as unknown as CoordinatorClient }
}

const signal = new AbortController().signal
const twin = (epoch: number): EvidenceJson => reportEvidence(memberReport(epoch, 1), memberReport(epoch, 1, { values: new Uint16Array(20).fill(7) }))

describe('EvidenceSubmitter', () => {
  it('sends valid evidence once; never sends a pair that proves nothing', async () => {
    const { client, sent } = fakeClient(async () => true)
    const s = new EvidenceSubmitter(client, pino({ level: 'silent' }))
    await s.submit(twin(2), signal)
    await s.submit(twin(2), signal)
    await s.submit(reportEvidence(memberReport(3, 1), memberReport(3, 1, { timestamp: 9 })), signal)
    expect(sent).toHaveLength(1)
    expect(s.pending).toBe(0)
  })

  it('keeps evidence while the coordinator is unreachable and sends it on flush; at most 32 wait', async () => {
    let up = false
    const { client, sent } = fakeClient(async () => { if (!up) throw new Error('unreachable'); return true })
    const s = new EvidenceSubmitter(client, pino({ level: 'silent' }))
    for (let e = 1; e <= 40; e++) await s.submit(twin(e), signal)
    expect(s.pending).toBe(32)
    up = true
    sent.length = 0
    await s.flush(signal)
    expect(sent).toHaveLength(32)
    expect(s.pending).toBe(0)
  })

  it('tells what became of each piece of evidence: detected once, then sent (banned or not) or dropped after the last try', async () => {
    const events: EvidenceEvent[] = []
    let answer = async (): Promise<boolean> => true
    const { client } = fakeClient(async () => await answer())
    const s = new EvidenceSubmitter(client, pino({ level: 'silent' }), (e) => { events.push(e) })
    const offender = toHex(KEYS[1]!.publicKey)
    await s.submit(twin(2), signal)
    await s.submit(twin(2), signal)
    answer = async () => false
    await s.submit(twin(3), signal)
    answer = async () => { throw new Error('coordinator down') }
    await s.submit(twin(4), signal)
    for (let i = 0; i < 9; i++) await s.flush(signal)
    const of = (epoch: number): { kind: 'report-equivocation', hash: string, offender: string, epoch: number } => ({ kind: 'report-equivocation', hash: evidenceHash(twin(epoch)), offender, epoch })
    expect(events).toEqual([
      { ...of(2), status: 'detected' },
      { ...of(2), status: 'sent', banned: true },
      { ...of(3), status: 'detected' },
      { ...of(3), status: 'sent', banned: false },
      { ...of(4), status: 'detected' },
      { ...of(4), status: 'dropped', reason: 'coordinator down' }
    ])
  })
})
