import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, it, expect } from 'vitest'
import { loadNodeConfig, type NodeConfigOverrides } from '../../../src/config/index.js'
import { loadPeersFile } from '../../../src/config/index.js'
import { mergeLayers, setPath } from '../../../src/config/loader.js'
import { ConfigError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

/**
 * Key paths naming `__proto__`, `constructor` or `prototype` are refused from every layer with a
 * one-line ConfigError naming the source, and never reach Object.prototype.
 */

const MINIMAL = 'name = "node1"\nkey_file = "node.key"\npeers_file = "../peers.toml"\n'
const PROBES = ['polluted', 'x', 'y'] as const

function polluted (): unknown[] {
  const probe = {} as Record<string, unknown>
  return PROBES.map((key) => probe[key]).filter((v) => v !== undefined)
}

afterEach(() => {
  // never leak pollution into other tests of this worker, even when a test fails
  for (const key of PROBES) delete (Object.prototype as Record<string, unknown>)[key]
})

async function writeConfig (text: string): Promise<string> {
  const file = join(await tempDir(), 'config.toml')
  await writeFile(file, text)
  return file
}

async function refused (file: string, overrides: NodeConfigOverrides): Promise<ConfigError> {
  try {
    await loadNodeConfig(file, { env: {}, ...overrides })
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    const error = err as ConfigError
    expect(error.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(error.message).not.toContain('\n')
    expect(error.message).toMatch(/"(__proto__|constructor|prototype)" is not allowed in a key path/)
    return error
  }
  throw new Error('expected the configuration to be refused')
}

describe('forbidden key path segments', () => {
  it.each([
    '__proto__.polluted=yes',
    'http.__proto__.polluted=yes',
    'constructor.prototype.polluted=yes',
    'http.constructor.prototype.polluted=yes',
    'prototype.polluted=yes',
    '__proto__=1'
  ])('--set %s is refused naming the flag, and ({}).polluted stays undefined', async (assignment) => {
    const file = await writeConfig(MINIMAL)
    const err = await refused(file, { set: [assignment] })
    expect(err.message.startsWith(`flag --set ${assignment.slice(0, assignment.indexOf('='))}: `), err.message).toBe(true)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(polluted()).toEqual([])
  })

  it('a flag override with a forbidden key is refused naming the flag', async () => {
    const file = await writeConfig(MINIMAL)
    const err = await refused(file, { flags: [{ flag: '--evil', key: '__proto__.polluted', value: 'yes' }] })
    expect(err.message).toMatch(/^flag --evil: key "__proto__\.polluted"/)
    expect(polluted()).toEqual([])
  })

  it.each([
    ['EPHEMERA_HTTP__CONSTRUCTOR__PROTOTYPE__POLLUTED', 'constructor'],
    ['EPHEMERA_HTTP__PROTOTYPE', 'prototype'],
    ['EPHEMERA_P2P__CONSTRUCTOR', 'constructor']
  ])('environment variable %s is refused naming the variable', async (name, segment) => {
    const file = await writeConfig(MINIMAL)
    const err = await refused(file, { env: { [name]: 'yes' } })
    expect(err.message.startsWith(`environment variable ${name}: `), err.message).toBe(true)
    expect(err.message).toContain(`"${segment}" is not allowed`)
    expect(polluted()).toEqual([])
  })

  it.each([
    ['[__proto__]\npolluted = "yes"\n', '__proto__'],
    ['__proto__.polluted = "yes"\n', '__proto__'],
    ['"__proto__" = { polluted = "yes" }\n', '__proto__'],
    ['[http]\n__proto__ = { polluted = "yes" }\n', 'http.__proto__'],
    ['[[__proto__]]\npolluted = "yes"\n', '__proto__'],
    ['constructor.prototype.polluted = "yes"\n', 'constructor'],
    ['[http.constructor.prototype]\npolluted = "yes"\n', 'http.constructor']
  ])('a TOML file with a forbidden key is refused naming the file (%j)', async (extra, key) => {
    // smol-toml parses these into null-prototype tables with an own "__proto__" key; the merge
    // used to follow it into Object.prototype
    const file = await writeConfig(MINIMAL + extra)
    const err = await refused(file, {})
    expect(err.message.startsWith(`${file}: key "${key}`), err.message).toBe(true)
    expect(polluted()).toEqual([])
  })

  it('a peers file with a forbidden key is refused too', async () => {
    const file = await writeConfig('[__proto__]\npolluted = "yes"\n')
    await expect(loadPeersFile(file)).rejects.toThrow(/"__proto__" is not allowed in a key path/)
    expect(polluted()).toEqual([])
  })
})

describe('the merge itself', () => {
  it('refuses an own "__proto__" key in any layer and names the layer', () => {
    const values = JSON.parse('{"http": {"__proto__": {"polluted": "yes"}}}') as Record<string, unknown>
    expect(() => mergeLayers([{ source: { kind: 'env', name: 'SOMETHING' }, values }]))
      .toThrow('environment variable SOMETHING: key "http.__proto__": "__proto__" is not allowed in a key path')
    expect(polluted()).toEqual([])
  })

  it('keeps keys shadowing Object.prototype members as own data properties', () => {
    const { values } = mergeLayers([
      { source: { kind: 'file', path: 'a.toml' }, values: { toString: { x: 1 }, hasOwnProperty: 2 } },
      { source: { kind: 'file', path: 'b.toml' }, values: { toString: { y: 2 }, valueOf: { x: 3 } } }
    ])
    expect(Object.hasOwn(values, 'toString')).toBe(true)
    expect(values.toString).toEqual({ x: 1, y: 2 })
    expect(values.valueOf).toEqual({ x: 3 })
    expect(typeof ({}).toString).toBe('function')
    expect(polluted()).toEqual([])
  })

  it('setPath refuses forbidden segments and writes own properties only', () => {
    expect(() => { setPath({}, ['__proto__', 'polluted'], 'yes') }).toThrow(ConfigError)
    expect(() => { setPath({}, ['constructor', 'prototype', 'polluted'], 'yes') }).toThrow(ConfigError)
    const target: Record<string, unknown> = {}
    setPath(target, ['toString', 'x'], 1)
    expect(target).toEqual({ toString: { x: 1 } })
    expect(polluted()).toEqual([])
  })
})
