import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../../src/codec/bytes.js'
import { NodeKey, verifySignature } from '../../../src/crypto/keys.js'
import { contributionSigningBytes, rowsHash, verificationSigningBytes } from '../../../src/epochs/chunks.js'
import { chunkVerifiers, leaseHolder } from '../../../src/epochs/rotation.js'

/** docs/PROTOCOL.md §8.2: the chunk vectors printed there are what the code computes. */
describe('docs/PROTOCOL.md chunk vectors', () => {
  it('match the implementation', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8')
    const section = doc.slice(doc.indexOf('### 8.2 Chunk vectors'), doc.indexOf('### 8.3'))
    const block = doc.slice(doc.indexOf('## 8. Test vectors'))
    const blockHash = fromHex(/^\| block_hash \| `([0-9a-f]{64})`/m.exec(block)?.[1] ?? '', 32) as Uint8Array
    const rows = new Map([...section.matchAll(/^\| ([^|]+?) \| `([0-9a-f]+)`/gm)].map((m) => [m[1] as string, m[2] as string]))
    const contributor = NodeKey.fromSeed(new Uint8Array(32).fill(1))
    const verifier = NodeKey.fromSeed(new Uint8Array(32).fill(2))
    const hash = rowsHash([{ mixnode: 25, performance: 9950, values: 3, reward: '12345' }, { mixnode: 26, performance: null, values: 1, reward: '0' }])
    const claim = { epoch: 7, blockHash, chunk: { index: 1, from: 25, to: 27 }, rowsHash: hash }
    const contribution = contributionSigningBytes(claim)
    const verification = verificationSigningBytes({ ...claim, ownRowsHash: hash, ok: true })
    const expected: Record<string, string> = {
      rowsHash: toHex(hash),
      contribution_signing_bytes: toHex(contribution),
      'contribution signature (contributor)': toHex(contributor.sign(contribution)),
      verification_signing_bytes: toHex(verification),
      'verification signature (verifier)': toHex(verifier.sign(verification))
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(expected).sort())
    for (const [name, value] of Object.entries(expected)) expect(rows.get(name), name).toBe(value)
    expect(verifySignature(verifier.publicKey, verification, fromHex(rows.get('verification signature (verifier)') as string, 64) as Uint8Array)).toBe(true)

    // the rotation example
    const members = [toHex(contributor.publicKey), toHex(verifier.publicKey), 'cc'.repeat(32), 'dd'.repeat(32)].sort()
    expect(members.slice(0, 2)).toEqual([toHex(verifier.publicKey), toHex(contributor.publicKey)])
    expect(leaseHolder(members, 7, 1, 0, 0)).toBe(toHex(verifier.publicKey))
    expect(chunkVerifiers(members, toHex(verifier.publicKey), 0, 2)).toEqual([toHex(contributor.publicKey), 'cc'.repeat(32)])
  })
})
