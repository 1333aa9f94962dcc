import { describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Libp2pGossip } from '../../../src/network/libp2p-gossip.js'
import type { NodeLibp2p } from '../../../src/network/libp2p.js'

/** The gossip adapter maps verdicts onto gossipsub's: a validator that throws is a local problem → Ignore. */
describe('Libp2pGossip', () => {
  it('maps accept/ignore/reject, and a throwing validator to Ignore (never Reject)', async () => {
    const validators = new Map<string, (peer: unknown, message: unknown) => Promise<TopicValidatorResult>>()
    const pubsub = {
      topicValidators: validators,
      addEventListener: () => {},
      removeEventListener: () => {},
      subscribe: () => {},
      unsubscribe: () => {},
      publish: async () => ({ recipients: [] })
    }
    const gossip = new Libp2pGossip({ services: { pubsub } } as unknown as NodeLibp2p, pino({ level: 'silent' }))
    const verdicts = ['accept', 'ignore', 'reject', 'throw'] as const
    let next = 0
    gossip.subscribe('t', {
      validate: () => {
        const v = verdicts[next++]
        if (v === 'throw') throw new Error('database is closed')
        return v === 'accept' ? { accept: v } : v
      },
      deliver: () => {}
    })
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const message = { type: 'unsigned', data: new Uint8Array([1]), topic: 't' }
    const run = validators.get('t')!
    expect(await run(peer, message)).toBe(TopicValidatorResult.Accept)
    expect(await run(peer, message)).toBe(TopicValidatorResult.Ignore)
    expect(await run(peer, message)).toBe(TopicValidatorResult.Reject)
    expect(await run(peer, message)).toBe(TopicValidatorResult.Ignore)
  })
})
