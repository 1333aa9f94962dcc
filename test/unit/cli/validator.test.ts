import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from 'commander'
import { publicKeyOption } from '../../../src/cli/contract/admin.js'
import { announcedMultiaddrs, describeQueueAnswer } from '../../../src/cli/validator/index.js'
import { toHex } from '../../../src/codec/bytes.js'
import { NodeKey } from '../../../src/crypto/keys.js'

/** The pure parts of `ephemera validator join|leave` and the operator commands. */

const key = NodeKey.fromSeed(new Uint8Array(32).fill(9))
const peerId = key.peerId.toString()

describe('validator join: the addresses it registers', () => {
  it('appends /p2p/<PeerId> to each address', () => {
    expect(announcedMultiaddrs(['/ip4/127.0.0.1/tcp/7009', '/dns4/v5.example.org/tcp/4001'], peerId))
      .toEqual([`/ip4/127.0.0.1/tcp/7009/p2p/${peerId}`, `/dns4/v5.example.org/tcp/4001/p2p/${peerId}`])
  })

  it('keeps a /p2p part naming this PeerId and refuses one naming another', () => {
    expect(announcedMultiaddrs([`/ip4/10.0.0.5/tcp/4001/p2p/${peerId}`], peerId)).toEqual([`/ip4/10.0.0.5/tcp/4001/p2p/${peerId}`])
    const other = NodeKey.fromSeed(new Uint8Array(32).fill(10)).peerId.toString()
    expect(() => announcedMultiaddrs([`/ip4/10.0.0.5/tcp/4001/p2p/${other}`], peerId)).toThrow(/names PeerId .* but this node's key is/)
  })

  it('refuses an unspecified host (nobody can dial it) and a malformed multiaddr', () => {
    expect(() => announcedMultiaddrs(['/ip4/0.0.0.0/tcp/4001'], peerId)).toThrow(/not one others can dial: set p2p.announce \(or pass --announce\)/)
    expect(() => announcedMultiaddrs(['/ip6/::/tcp/4001'], peerId)).toThrow(/--announce/)
    expect(() => announcedMultiaddrs(['not a multiaddr'], peerId)).toThrow(/is not a valid multiaddr/)
  })
})

describe('validator join|leave: one line per answer', () => {
  const url = 'http://127.0.0.1:7000'
  it.each([
    [{ status: 'queued', position: 2 }, 'node5 queued at position 2 at http://127.0.0.1:7000'],
    [{ status: 'staged' }, 'node5 is staged at http://127.0.0.1:7000: admitted by the next committee change, in force two epochs after the commit that decides it'],
    [{ status: 'member' }, 'node5 is a member of the committee at http://127.0.0.1:7000 (nothing to do)'],
    [{ status: 'unqueued' }, 'node5 left the queue at http://127.0.0.1:7000'],
    [{ status: 'leaving' }, 'node5 leaves the committee at the next change (http://127.0.0.1:7000)']
  ] as const)('%j', (answer, line) => {
    expect(describeQueueAnswer('node5', url, answer)).toBe(line)
  })
})

describe('contract ban|unban --public-key', () => {
  it('takes 64 hex digits (lower-cased) or a PeerId', () => {
    const hex = toHex(key.publicKey)
    expect(publicKeyOption(hex.toUpperCase())).toBe(hex)
    expect(publicKeyOption(peerId)).toBe(hex)
  })

  it('refuses anything else as a usage error', () => {
    expect(() => publicKeyOption('abc')).toThrow(InvalidArgumentError)
    expect(() => publicKeyOption('12D3KooWnotapeerid')).toThrow(/64 hex digits/)
  })
})
