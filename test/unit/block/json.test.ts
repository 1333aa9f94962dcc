import { describe, it, expect } from 'vitest'
import { messageId } from '../../../src/block/encoding.js'
import {
  blockFromJson, blockToJson, certificateFromJson, certificateToJson, headerToJson, messageFromJson, messageToJson, peerIdOf, type BlockJson
} from '../../../src/block/json.js'
import { toBase64, toHex } from '../../../src/codec/bytes.js'
import { certifiedBlock, key, members, signedMessage, norm } from './fixtures.js'

const keys = members(4)
const client = key(0x0c)
const messages = [signedMessage(client, { label: 'a', data: 'hello' }), signedMessage(client, { label: 'é', data: new Uint8Array([0, 255, 1]) })]
const certified = certifiedBlock({ members: keys, round: 9, height: 4, messages, signers: [3, 1, 2] })
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

describe('JSON forms', () => {
  it('messageToJson: hex keys and signature, base64 data, the message id', () => {
    const m = messages[1] as (typeof messages)[number]
    expect(messageToJson(m)).toEqual({
      id: toHex(messageId(m)),
      timestamp: m.timestamp,
      label: 'é',
      data: 'AP8B',
      publicKey: toHex(client.publicKey),
      signature: toHex(m.signature)
    })
  })

  it('headerToJson shows the creator as PeerId and hex key', () => {
    const h = headerToJson(certified.block.header)
    expect(h.creator).toBe((keys[0] as typeof client).peerId.toString())
    expect(h.creatorPublicKey).toBe(toHex((keys[0] as typeof client).publicKey))
    expect(h).toMatchObject({ version: 1, round: 9, height: 4, messageCount: 2, membershipId: toHex(certified.membershipId), messagesRoot: toHex(certified.block.header.messagesRoot) })
  })

  it('peerIdOf matches NodeKey.peerId', () => {
    for (const k of keys) expect(peerIdOf(k.publicKey)).toBe(k.peerId.toString())
  })

  it('blockToJson → JSON text → blockFromJson round-trips', () => {
    const json = clone(blockToJson(certified.block, certified.hash))
    expect(json.hash).toBe(toHex(certified.hash))
    expect(json.messages).toHaveLength(2)
    const parsed = blockFromJson(json)
    if (!parsed.ok) throw new Error(parsed.error)
    expect(toHex(parsed.value.claimedHash)).toBe(toHex(certified.hash))
    expect(norm(parsed.value.block)).toEqual(norm(certified.block))
  })

  it('certificateToJson → JSON text → certificateFromJson round-trips', () => {
    const json = clone(certificateToJson(certified.certificate))
    expect(json.signatures.map((s) => s.signer)).toEqual([3, 1, 2].map((i) => (keys[i] as typeof client).peerId.toString()))
    expect(json.creator).toBe((keys[0] as typeof client).peerId.toString())
    const parsed = certificateFromJson(json)
    if (!parsed.ok) throw new Error(parsed.error)
    expect(norm(parsed.value)).toEqual(norm(certified.certificate))
  })

  it('blockFromJson and certificateFromJson report the first problem with its path', () => {
    const json = clone(blockToJson(certified.block, certified.hash))
    const badData = clone(json)
    ;(badData.messages[1] as BlockJson['messages'][number]).data = 'QQ='
    expect(blockFromJson(badData)).toEqual({ ok: false, error: expect.stringMatching(/^messages\.1\.data: must be standard base64/) as unknown })
    const badHeader = clone(json)
    badHeader.header.membershipId = 'ab'
    expect(blockFromJson(badHeader)).toEqual({ ok: false, error: expect.stringMatching(/^header\.membershipId: must be 32 bytes of hex/) as unknown })
    const badHash = { ...json, hash: json.hash.slice(2) }
    expect(blockFromJson(badHash)).toMatchObject({ ok: false, error: expect.stringMatching(/^hash: /) as unknown })
    const badRound = { ...json, header: { ...json.header, round: -1 } }
    expect(blockFromJson(badRound)).toMatchObject({ ok: false, error: expect.stringMatching(/^header\.round: /) as unknown })
    expect(blockFromJson(null)).toMatchObject({ ok: false, error: expect.stringMatching(/^\(body\): /) as unknown })

    const cert = clone(certificateToJson(certified.certificate))
    ;(cert.signatures[2] as (typeof cert.signatures)[number]).signature = 'zz'
    expect(certificateFromJson(cert)).toMatchObject({ ok: false, error: expect.stringMatching(/^signatures\.2\.signature: must be 64 bytes of hex/) as unknown })
    expect(certificateFromJson({ ...clone(certificateToJson(certified.certificate)), round: 1.5 })).toMatchObject({ ok: false, error: expect.stringMatching(/^round: /) as unknown })
  })
})

describe('messageFromJson', () => {
  const m = messages[0] as (typeof messages)[number]
  const good = { timestamp: m.timestamp, label: m.label, data: toBase64(m.data), publicKey: toHex(m.publicKey), signature: toHex(m.signature) }

  it('parses a valid message (uppercase hex accepted, extra keys ignored)', () => {
    const parsed = messageFromJson({ ...good, publicKey: good.publicKey.toUpperCase(), id: 'ignored' })
    if (!parsed.ok) throw new Error(parsed.error)
    expect(norm(parsed.value)).toEqual(norm(m))
    expect(Object.keys(parsed.value).sort()).toEqual(['data', 'label', 'publicKey', 'signature', 'timestamp'])
  })

  it('parses what messageToJson produces', () => {
    for (const msg of messages) {
      const parsed = messageFromJson(clone(messageToJson(msg)))
      if (!parsed.ok) throw new Error(parsed.error)
      expect(norm(parsed.value)).toEqual(norm(msg))
    }
  })

  it.each<[string, unknown, string]>([
    ['non-canonical base64 data (QQ=)', { ...good, data: 'QQ=' }, 'data'],
    ['base64 with stray bits (QR==)', { ...good, data: 'QR==' }, 'data'],
    ['base64 with a bad character', { ...good, data: 'aGV*bG8=' }, 'data'],
    ['url-safe base64', { ...good, data: '-_-_' }, 'data'],
    ['data as a byte array', { ...good, data: [1, 2] }, 'data'],
    ['a short hex public key', { ...good, publicKey: good.publicKey.slice(2) }, 'publicKey'],
    ['a long hex public key', { ...good, publicKey: good.publicKey + '00' }, 'publicKey'],
    ['an odd-length hex public key', { ...good, publicKey: good.publicKey.slice(1) }, 'publicKey'],
    ['a non-hex public key', { ...good, publicKey: 'g'.repeat(64) }, 'publicKey'],
    ['a PeerId instead of a hex public key', { ...good, publicKey: client.peerId.toString() }, 'publicKey'],
    ['a short signature', { ...good, signature: good.signature.slice(0, 126) }, 'signature'],
    ['a non-integer timestamp', { ...good, timestamp: 1.5 }, 'timestamp'],
    ['a negative timestamp', { ...good, timestamp: -1 }, 'timestamp'],
    ['an unsafe timestamp', { ...good, timestamp: 2 ** 53 }, 'timestamp'],
    ['a string timestamp', { ...good, timestamp: '1700000000000' }, 'timestamp'],
    ['a missing timestamp', { ...good, timestamp: undefined }, 'timestamp'],
    ['a missing label', { ...good, label: undefined }, 'label'],
    ['a missing data', { ...good, data: undefined }, 'data'],
    ['a missing publicKey', { ...good, publicKey: undefined }, 'publicKey'],
    ['a missing signature', { ...good, signature: undefined }, 'signature'],
    ['a numeric label', { ...good, label: 5 }, 'label'],
    ['a null label', { ...good, label: null }, 'label'],
    ['an object signature', { ...good, signature: { hex: good.signature } }, 'signature'],
    ['a boolean public key', { ...good, publicKey: true }, 'publicKey']
  ])('rejects %s, naming the field', (_name, body, field) => {
    const parsed = messageFromJson(body)
    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(parsed.error.startsWith(`${field}: `), parsed.error).toBe(true)
  })

  it.each<[string, unknown]>([['null', null], ['a string', 'hello'], ['an array', [good]], ['a number', 42], ['undefined', undefined]])('rejects %s as the body', (_name, body) => {
    const parsed = messageFromJson(body)
    expect(parsed).toMatchObject({ ok: false, error: expect.stringMatching(/^\(body\): /) as unknown })
  })
})
