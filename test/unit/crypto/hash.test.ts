import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { portableSha256, sha256 } from '../../../src/crypto/hash.js'

describe('sha256', () => {
  it('uses Node\'s own hash here and gives the same bytes as the portable one, for any split of the input', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (parts) => {
      const native = sha256(...parts)
      expect(native).toEqual(portableSha256(...parts))
      expect(native.constructor).toBe(Uint8Array)
    }))
  })

  it('hashes the empty input to the known digest', () => {
    expect(Buffer.from(sha256()).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })
})
