import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { messageId } from '../../../src/block/encoding.js'
import { toHex } from '../../../src/codec/bytes.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { inclusionProof, merkleRoot, verifyInclusion } from '../../../src/crypto/merkle.js'
import { aggregateReports } from '../../../src/epochs/aggregate.js'
import { requestSigningBytes } from '../../../src/epochs/auth.js'
import { encodeReport, MISSING, parametersId, reportMessage, type Report } from '../../../src/epochs/report.js'

/** docs/PROTOCOL.md §8.3: the rewards and request vectors printed there are what the code computes. */
describe('docs/PROTOCOL.md rewards and request vectors', () => {
  it('match the implementation', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8')
    const section = doc.slice(doc.indexOf('### 8.3 Rewards and request vectors'))
    const rows = new Map([...section.matchAll(/^\| ([^|]+?) \| `([0-9a-f]+)`/gm)].map((m) => [m[1] as string, m[2] as string]))
    const signer = NodeKey.fromSeed(new Uint8Array(32).fill(2))
    const params = { mixnodes: 3, aggregation: 'median', trimPermille: 200, minValues: 2, rewardPool: '1000', rewardsThreshold: 3 }
    const report: Report = { version: 2, epoch: 7, sender: signer.publicKey, commitment: parametersId(params), values: Uint16Array.from([9950, MISSING, 5000]) }
    const message = reportMessage(report, (b) => signer.sign(b), 1_700_000_000_000)
    const ids = [3, 4, 5, 6, 7].map((seed, i) => {
      const k = NodeKey.fromSeed(new Uint8Array(32).fill(seed))
      return messageId(reportMessage({ ...report, sender: k.publicKey }, (b) => k.sign(b), 1_700_000_000_000 + i))
    })
    const proof = inclusionProof(ids, 2)
    const request = requestSigningBytes('POST', '/contract/epochs/7/chunks/lock', new TextEncoder().encode('{"chunks":[0,2]}'), 1_700_000_000_000, new Uint8Array(16).fill(0x11))
    const expected: Record<string, string> = {
      parameters_id: toHex(parametersId(params)),
      report: toHex(encodeReport(report)),
      'report message_id': toHex(messageId(message)),
      'five-leaf messagesRoot': toHex(merkleRoot(ids)),
      'proof of leaf 2, path[0]': toHex(proof.path[0] as Uint8Array),
      'proof of leaf 2, path[1]': toHex(proof.path[1] as Uint8Array),
      'proof of leaf 2, path[2]': toHex(proof.path[2] as Uint8Array),
      request_signing_bytes: toHex(request),
      'request signature (signer)': toHex(signer.sign(request))
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(expected).sort())
    for (const [name, value] of Object.entries(expected)) expect(rows.get(name), name).toBe(value)
    expect(proof.path).toHaveLength(3)
    expect(verifyInclusion(ids[2] as Uint8Array, proof, merkleRoot(ids))).toBe(true)

    const table = aggregateReports([Uint16Array.from([9950, MISSING, 5000]), Uint16Array.from([9000, 8000, MISSING]), Uint16Array.from([9990, MISSING, 6000])], 3, { method: 'median', trimPermille: 200, minValues: 2, rewardPool: 1000n })
    expect(table).toEqual([
      { mixnode: 0, performance: 9950, values: 3, reward: '644' },
      { mixnode: 1, performance: null, values: 1, reward: '0' },
      { mixnode: 2, performance: 5500, values: 2, reward: '355' }
    ])
    expect(section).toContain('mixnode 0 performance 9950 from 3 values, reward "644"')
    expect(section).toContain('reward "355"')
  })
})
