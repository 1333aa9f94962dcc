import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from 'vitest'
import { AbortError, ConfigError, EphemeraError, ErrorCode, TimeoutError, errorMessage, isEphemeraError } from '../../../src/util/errors.js'

const ERRORS_MD = fileURLToPath(new URL('../../../docs/ERRORS.md', import.meta.url))
const codes = Object.values(ErrorCode) as string[]

describe('docs/ERRORS.md', () => {
  it('documents every ErrorCode and names no code that does not exist', async () => {
    const text = await readFile(ERRORS_MD, 'utf8')
    const mentioned = new Set(text.match(/ERR_[A-Z_]+/g) ?? [])
    const undocumented = codes.filter((code) => !mentioned.has(code))
    expect(undocumented, `codes missing from docs/ERRORS.md`).toEqual([])
    const unknown = [...mentioned].filter((code) => !codes.includes(code) && code !== 'ERR_INTERNAL')
    expect(unknown, `codes in docs/ERRORS.md that src/util/errors.ts does not define`).toEqual([])
  })
})

describe('ErrorCode', () => {
  it('values are unique ERR_ constants', () => {
    expect(new Set(codes).size).toBe(codes.length)
    for (const code of codes) expect(code).toMatch(/^ERR_[A-Z_]+$/)
  })
})

describe('error classes', () => {
  it('carry their code, name and a JSON form without the stack', () => {
    const err = new EphemeraError(ErrorCode.CLUSTER, 'already running', { pid: 1 })
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('EphemeraError')
    expect(err.details).toEqual({ pid: 1 })
    expect(JSON.parse(JSON.stringify(err))).toEqual({ code: 'ERR_CLUSTER', message: 'already running' })
    const config = new ConfigError('bad')
    expect(config.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(config.name).toBe('ConfigError')
    expect(new ConfigError('gone', {}, ErrorCode.CONFIG_NOT_FOUND).code).toBe(ErrorCode.CONFIG_NOT_FOUND)
    expect(new AbortError().code).toBe(ErrorCode.ABORTED)
    expect(new TimeoutError().code).toBe(ErrorCode.TIMEOUT)
    expect(isEphemeraError(new TimeoutError())).toBe(true)
    expect(isEphemeraError(new Error('x'))).toBe(false)
    expect(errorMessage(new Error('one line'))).toBe('one line')
    expect(errorMessage('text')).toBe('text')
  })
})
