import type { MembershipViewJson } from '../../epochs/membership-requests.js'
import type { RoundViewJson } from '../../epochs/requests.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { printJson, println, table } from '../output.js'
import { membershipLines } from './membership.js'

interface EpochNow {
  epoch: number
  endMs: number
  environment: { name: string, epochMs: number, chunkSize: number, leaseTimeoutMs: number, attemptTimeoutMs: number, verifiersPerChunk: number, finalizationEpochs: number }
}

const short = (key: string | null | undefined): string => key == null ? '-' : `${key.slice(0, 8)}…`
const until = (ms: number, now: number): string => ms >= now ? `in ${((ms - now) / 1000).toFixed(1)} s` : `${((now - ms) / 1000).toFixed(1)} s ago`

/**
 * `ephemera contract status`: the living committee (src/cli/contract/membership.ts), then the
 * coordinator's open rounds — per epoch its attempt and deadlines, each chunk's lease (holder,
 * deadline), contribution, verifiers and verifications, and the recent events (lease expiries,
 * verification failures, rollbacks).
 */
export async function contractStatus (opts: { contract: string, json: boolean }): Promise<void> {
  const base = nodeUrl(opts.contract)
  const now = Date.now()
  const info = await requestJson<EpochNow>('GET', `${base}/contract/epoch`)
  const { rounds } = await requestJson<{ rounds: RoundViewJson[] }>('GET', `${base}/contract/rounds`)
  const membership = await requestJson<MembershipViewJson>('GET', `${base}/contract/membership`)
  if (opts.json) {
    printJson({ epoch: info.epoch, environment: info.environment, rounds, membership })
    return
  }
  const env = info.environment
  println(`epoch ${info.epoch} running (ends ${until(info.endMs, now)}); ${env.name}: chunks of ${env.chunkSize} mixnodes, leases ${env.leaseTimeoutMs} ms, attempts ${env.attemptTimeoutMs} ms, ${env.verifiersPerChunk} verifiers per chunk, finalization ${env.finalizationEpochs} epochs`)
  for (const line of membershipLines(membership)) println(line)
  if (rounds.length === 0) {
    println('no open rounds: every ended epoch is committed or failed (ephemera epochs list shows them)')
    return
  }
  for (const r of rounds) {
    println()
    println(`epoch ${r.epoch}: ${r.status}, attempt ${r.attempt} (rolls back ${until(r.attemptDeadline, now)}; fails ${until(r.finalizationDeadline, now)}); block ${short(r.blockHash)}; chunks ${r.progress.contributed}/${r.progress.chunks} contributed, ${r.progress.verified}/${r.progress.chunks} verified`)
    println(table([
      ['chunk', 'mixnodes', 'lease holder', 'lease', 'contributed by', 'verifiers', 'verified'],
      ...r.chunks.map((c) => [
        String(c.index),
        `${c.from}–${c.to - 1}`,
        short(c.lease.holder),
        c.contribution != null ? '-' : `${c.lease.lockedAt != null ? 'locked' : 'offered'}, ends ${until(c.lease.deadline, now)}`,
        short(c.contribution?.contributor),
        c.verifiers.map(short).join(' ') || '-',
        c.verifications.map((v) => `${short(v.verifier)} ${v.ok ? 'ok' : 'FAILED'}`).join(', ') || '-'
      ])
    ]))
    for (const e of r.events.slice(-10)) println(`  ${new Date(e.at).toISOString()}  ${e.kind}: ${e.detail}`)
  }
}
