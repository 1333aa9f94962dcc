import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { blockHash, buildBlock, encodeHeader, membershipId, messageId, messageSigningBytes, proposalSigningBytes, readySigningBytes } from '../../../src/block/encoding.js'
import { peerIdOf } from '../../../src/block/json.js'
import { toHex } from '../../../src/codec/bytes.js'
import { NodeKey, verifySignature } from '../../../src/crypto/keys.js'

/** docs/PROTOCOL.md §7: every vector printed there is what the code computes. */
describe('docs/PROTOCOL.md test vectors', () => {
  it('match the implementation', async () => {
    const doc = await readFile(fileURLToPath(new URL('../../../docs/PROTOCOL.md', import.meta.url)), 'utf8')
    const section = doc.slice(doc.indexOf('## 8. Test vectors'), doc.indexOf('### 8.2 Chunk vectors'))
    const rows = new Map([...section.matchAll(/^\| ([^|]+?) \| `([0-9a-f]+)`/gm)].map((m) => [m[1] as string, m[2] as string]))

    const creator = NodeKey.fromSeed(new Uint8Array(32).fill(1))
    const signer = NodeKey.fromSeed(new Uint8Array(32).fill(2))
    const body = { timestamp: 1_700_000_000_000, label: 'test', data: new TextEncoder().encode('hello') }
    const signingBytes = messageSigningBytes(body)
    const message = { ...body, publicKey: signer.publicKey, signature: signer.sign(signingBytes) }
    const mid = membershipId([creator.publicKey, signer.publicKey])
    const block = buildBlock({ round: 7, creator: creator.publicKey, height: 3, createdAt: 1_700_000_000_123, membershipId: mid }, [message])
    const hash = blockHash(block.header)
    const ready = readySigningBytes(7, creator.publicKey, hash)
    const proposal = proposalSigningBytes(7, creator.publicKey, hash)
    const expected: Record<string, string> = {
      'creator public key': toHex(creator.publicKey),
      'signer public key': toHex(signer.publicKey),
      message_signing_bytes: toHex(signingBytes),
      'message signature': toHex(message.signature),
      message_id: toHex(messageId(message)),
      messagesRoot: toHex(block.header.messagesRoot),
      membership_id: toHex(mid),
      'header_bytes (144)': toHex(encodeHeader(block.header)),
      block_hash: toHex(hash),
      proposal_signing_bytes: toHex(proposal),
      'proposal signature (creator)': toHex(creator.sign(proposal)),
      ready_signing_bytes: toHex(ready),
      'READY signature (creator)': toHex(creator.sign(ready))
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(expected).sort())
    for (const [name, value] of Object.entries(expected)) expect(rows.get(name), name).toBe(value)
    expect(section).toContain(peerIdOf(creator.publicKey))
    expect(section).toContain(peerIdOf(signer.publicKey))
    expect(verifySignature(creator.publicKey, ready, Buffer.from(rows.get('READY signature (creator)') as string, 'hex'))).toBe(true)
  })
})
