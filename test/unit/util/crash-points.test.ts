import { describe, expect, it } from 'vitest'
import { parseCrashPoints } from '../../../src/util/crash-points.js'

describe('crash points (test-only kill -9 hooks)', () => {
  it('parses point@epoch lists and ignores malformed entries', () => {
    expect([...parseCrashPoints('gossiping@5, commit@12,bad,@3,x@y')]).toEqual(['gossiping@5', 'commit@12'])
    expect(parseCrashPoints(undefined).size).toBe(0)
  })
})
