import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { describe, it, expect } from 'vitest'
import { dialableAddresses, loadNodeConfig, type NodeConfigOverrides } from '../../../src/config/index.js'
import { ConfigError, ErrorCode } from '../../../src/util/errors.js'
import { NodeKey } from '../../../src/crypto/keys.js'
import { tempDir } from '../tmp.js'

const MINIMAL = 'name = "node1"\nkey_file = "node.key"\npeers_file = "../peers.toml"\n'

async function writeConfig (text: string, fileName = 'config.toml'): Promise<{ dir: string, file: string }> {
  const dir = await tempDir()
  const file = join(dir, fileName)
  await writeFile(file, text)
  return { dir, file }
}

/** Loads and returns the thrown error (failing the test if nothing is thrown). */
async function loadError (file: string, overrides: NodeConfigOverrides = {}): Promise<ConfigError> {
  try {
    await loadNodeConfig(file, { env: {}, ...overrides })
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    const error = err as ConfigError
    expect(error.message).not.toContain('\n')
    return error
  }
  throw new Error(`expected loading ${file} to fail`)
}

describe('loadNodeConfig: a valid file', () => {
  it('applies defaults and resolves relative paths against the config file directory', async () => {
    const { dir, file } = await writeConfig(MINIMAL)
    const config = await loadNodeConfig(file, { env: {} })
    expect(config.name).toBe('node1')
    expect(config.key_file).toBe(join(dir, 'node.key'))
    expect(config.peers_file).toBe(resolve(dir, '..', 'peers.toml'))
    expect(config.data_dir).toBe(join(dir, 'data', 'node1'))
    expect(config.config_file).toBe(file)
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8001, ws_max_clients: 64, ws_max_buffered_bytes: 4 * 1024 * 1024, ws_max_replay: 1000 })
    expect(config.p2p.listen).toBe('/ip4/127.0.0.1/tcp/4001')
    expect(config.p2p.dial_backoff_initial_ms).toBe(250)
    expect(config.p2p.dial_backoff_max_ms).toBe(5_000)
    expect(config.log.level).toBe('info')
    expect(config.coordinator_url).toBeUndefined()
  })

  it('keeps absolute paths and resolves a relative data_dir against the file', async () => {
    const { dir, file } = await writeConfig(`name = "n"\nkey_file = "/etc/ephemera/node.key"\npeers_file = "peers.toml"\ndata_dir = "state"\n`)
    const config = await loadNodeConfig(file, { env: {} })
    expect(config.key_file).toBe('/etc/ephemera/node.key')
    expect(config.peers_file).toBe(join(dir, 'peers.toml'))
    expect(config.data_dir).toBe(join(dir, 'state'))
  })

  it('reads every section when given', async () => {
    const { file } = await writeConfig(`${MINIMAL}coordinator_url = "http://127.0.0.1:7000"\n[p2p]\nlisten = "/ip4/0.0.0.0/tcp/4100"\ndial_backoff_initial_ms = 100\ndial_backoff_max_ms = 100\n[http]\nhost = "0.0.0.0"\nport = 0\n[log]\nlevel = "warn"\n`)
    const config = await loadNodeConfig(file, { env: {} })
    expect(config.coordinator_url).toBe('http://127.0.0.1:7000')
    expect(config.p2p.listen).toBe('/ip4/0.0.0.0/tcp/4100')
    expect(config.p2p.dial_backoff_max_ms).toBe(100)
    expect(config.http).toEqual({ host: '0.0.0.0', port: 0, ws_max_clients: 64, ws_max_buffered_bytes: 4 * 1024 * 1024, ws_max_replay: 1000 })
    expect(config.log.level).toBe('warn')
  })

  it('returns a deeply frozen object', async () => {
    const { file } = await writeConfig(MINIMAL)
    const config = await loadNodeConfig(file, { env: {} })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.http)).toBe(true)
    expect(Object.isFrozen(config.p2p)).toBe(true)
    expect(Object.isFrozen(config.log)).toBe(true)
    expect(() => { (config as { name: string }).name = 'other' }).toThrow(TypeError)
    expect(() => { (config.http as { port: number }).port = 1 }).toThrow(TypeError)
    expect(config.http.port).toBe(8001)
  })
})

describe('loadNodeConfig: file errors', () => {
  it('names the file and a missing required key', async () => {
    const { file } = await writeConfig('key_file = "k"\npeers_file = "p"\n')
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message).toBe(`${file}: key "name": required key is missing`)
  })

  it('names the file, key and expected type for a wrong type', async () => {
    const { file } = await writeConfig(`${MINIMAL}[http]\nport = "abc"\n`)
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message.startsWith(`${file}: `)).toBe(true)
    expect(err.message).toContain('key "http.port"')
    expect(err.message).toContain('expected a number')
    expect(err.message).toContain('"abc"')
  })

  it('rejects an unknown top-level key', async () => {
    const { file } = await writeConfig(`${MINIMAL}nmae = "typo"\n`)
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}: key "nmae": unknown key`))
    // it lists what was expected
    expect(err.message).toContain('peers_file')
  })

  it('rejects an unknown nested key', async () => {
    const { file } = await writeConfig(`${MINIMAL}[http]\nprot = 1\n`)
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}: key "http.prot": unknown key`))
    expect(err.message).toContain('port')
  })

  it('rejects an out-of-range port', async () => {
    const { file } = await writeConfig(`${MINIMAL}[http]\nport = 70000\n`)
    const err = await loadError(file)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}: key "http.port": must be at most 65535`))
    const negative = await writeConfig(`${MINIMAL}[http]\nport = -1\n`)
    expect((await loadError(negative.file)).message).toContain('key "http.port": must be at least 0')
  })

  it('rejects a non-integer port', async () => {
    const { file } = await writeConfig(`${MINIMAL}[http]\nport = 80.5\n`)
    const err = await loadError(file)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}: key "http.port": `))
  })

  it('rejects a malformed multiaddr and a non-TCP one in p2p.listen', async () => {
    const bad = await writeConfig(`${MINIMAL}[p2p]\nlisten = "not a multiaddr"\n`)
    const err = await loadError(bad.file)
    expect(err.message).toMatch(new RegExp(`^${escape(bad.file)}: key "p2p.listen": not a valid multiaddr`))
    const udp = await writeConfig(`${MINIMAL}[p2p]\nlisten = "/ip4/127.0.0.1/udp/4001"\n`)
    expect((await loadError(udp.file)).message).toContain('key "p2p.listen": must be a TCP multiaddr')
    const withP2p = await writeConfig(`${MINIMAL}[p2p]\nlisten = "/ip4/127.0.0.1/tcp/4001/p2p/${NodeKey.generate().peerId.toString()}"\n`)
    expect((await loadError(withP2p.file)).message).toContain('key "p2p.listen": must be a TCP multiaddr')
  })

  it('p2p.announce: where others dial the node (p2p.listen when empty); an unspecified or non-TCP address is refused', async () => {
    const plain = await loadNodeConfig((await writeConfig(`${MINIMAL}[p2p]\nlisten = "/ip4/10.0.0.5/tcp/4001"\n`)).file, { env: {} })
    expect(plain.p2p.announce).toEqual([])
    expect(dialableAddresses(plain)).toEqual(['/ip4/10.0.0.5/tcp/4001'])
    const nat = await loadNodeConfig((await writeConfig(`${MINIMAL}[p2p]\nlisten = "/ip4/0.0.0.0/tcp/4001"\nannounce = ["/ip4/203.0.113.7/tcp/4001", "/dns4/v1.example.org/tcp/4001"]\n`)).file, { env: {} })
    expect(dialableAddresses(nat)).toEqual(['/ip4/203.0.113.7/tcp/4001', '/dns4/v1.example.org/tcp/4001'])
    const unspecified = await writeConfig(`${MINIMAL}[p2p]\nannounce = ["/ip4/0.0.0.0/tcp/4001"]\n`)
    expect((await loadError(unspecified.file)).message).toContain('key "p2p.announce[0]": must be an address others can dial, not an unspecified one')
    const udp = await writeConfig(`${MINIMAL}[p2p]\nannounce = ["/ip4/203.0.113.7/udp/4001"]\n`)
    expect((await loadError(udp.file)).message).toContain('key "p2p.announce[0]": must be a TCP multiaddr')
  })

  it('rejects dial_backoff_max_ms below dial_backoff_initial_ms', async () => {
    const { file } = await writeConfig(`${MINIMAL}[p2p]\ndial_backoff_initial_ms = 1000\ndial_backoff_max_ms = 500\n`)
    const err = await loadError(file)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}: key "p2p.dial_backoff_max_ms": must be at least p2p.dial_backoff_initial_ms \\(1000\\)`))
  })

  it('rejects an unknown log level', async () => {
    const { file } = await writeConfig(`${MINIMAL}[log]\nlevel = "loud"\n`)
    const err = await loadError(file)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}: key "log.level": must be one of `))
    expect(err.message).toContain('"loud"')
  })

  it('reports invalid TOML syntax with file, line and column', async () => {
    const { file } = await writeConfig('name = "node1"\nkey_file = "k"\npeers_file = = "p"\n')
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message).toMatch(new RegExp(`^${escape(file)}:3:\\d+: invalid TOML`))
  })

  it('reports a missing file with ERR_CONFIG_NOT_FOUND', async () => {
    const dir = await tempDir()
    const file = join(dir, 'nope.toml')
    const err = await loadError(file)
    expect(err.code).toBe(ErrorCode.CONFIG_NOT_FOUND)
    expect(err.message).toBe(`${file}: file does not exist`)
  })
})

describe('loadNodeConfig: layering defaults → file → env → flags', () => {
  it('environment overrides the file and flags override the environment', async () => {
    const { file } = await writeConfig(`${MINIMAL}[http]\nport = 8500\n`)
    expect((await loadNodeConfig(file, { env: {} })).http.port).toBe(8500)
    const env = { EPHEMERA_HTTP__PORT: '9001' }
    expect((await loadNodeConfig(file, { env })).http.port).toBe(9001)
    const flagged = await loadNodeConfig(file, { env, flags: [{ flag: '--http-port', key: 'http.port', value: 9002 }] })
    expect(flagged.http.port).toBe(9002)
    // a flag with no value (not given on the command line) does not override
    const unset = await loadNodeConfig(file, { env, flags: [{ flag: '--http-port', key: 'http.port', value: undefined }] })
    expect(unset.http.port).toBe(9001)
  })

  it('environment variables reach nested keys and keep the rest of the section', async () => {
    const { file } = await writeConfig(`${MINIMAL}[p2p]\nlisten = "/ip4/127.0.0.1/tcp/4100"\n`)
    const config = await loadNodeConfig(file, { env: { EPHEMERA_P2P__DIAL_BACKOFF_MAX_MS: '8000', EPHEMERA_NAME: 'renamed' } })
    expect(config.p2p.dial_backoff_max_ms).toBe(8000)
    expect(config.p2p.listen).toBe('/ip4/127.0.0.1/tcp/4100')
    expect(config.name).toBe('renamed')
  })

  it('LOG_LEVEL sets log.level over the file', async () => {
    const { file } = await writeConfig(`${MINIMAL}[log]\nlevel = "warn"\n`)
    expect((await loadNodeConfig(file, { env: { LOG_LEVEL: 'debug' } })).log.level).toBe('debug')
    expect((await loadNodeConfig(file, { env: { LOG_LEVEL: '' } })).log.level).toBe('warn')
  })

  it('--set assignments are coerced to the schema type and applied last', async () => {
    const { file } = await writeConfig(MINIMAL)
    const config = await loadNodeConfig(file, {
      env: { EPHEMERA_P2P__DIAL_BACKOFF_MAX_MS: '7000' },
      set: ['p2p.dial_backoff_max_ms=9000', 'http.host=0.0.0.0']
    })
    expect(config.p2p.dial_backoff_max_ms).toBe(9000)
    expect(config.http.host).toBe('0.0.0.0')
  })

  it('an environment error names the variable, the key and the problem', async () => {
    const { file } = await writeConfig(MINIMAL)
    const err = await loadError(file, { env: { EPHEMERA_HTTP__PORT: 'abc' } })
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID)
    expect(err.message).toMatch(/^environment variable EPHEMERA_HTTP__PORT: key "http\.port": expected a number/)
    expect(err.message).not.toContain(file)
  })

  it('an unknown key below a known section in the environment is an error naming the variable', async () => {
    const { file } = await writeConfig(MINIMAL)
    const err = await loadError(file, { env: { EPHEMERA_HTTP__PROT: '1' } })
    expect(err.message).toMatch(/^environment variable EPHEMERA_HTTP__PROT: key "http\.prot": unknown key/)
  })

  it('a LOG_LEVEL error names LOG_LEVEL', async () => {
    const { file } = await writeConfig(MINIMAL)
    const err = await loadError(file, { env: { LOG_LEVEL: 'chatty' } })
    expect(err.message).toMatch(/^environment variable LOG_LEVEL: key "log\.level": must be one of/)
  })

  it('a --set error names the flag', async () => {
    const { file } = await writeConfig(MINIMAL)
    const err = await loadError(file, { set: ['http.port=abc'] })
    expect(err.message).toMatch(/^flag --set http\.port: key "http\.port": expected a number/)
    const malformed = await loadError(file, { set: ['http.port'] })
    expect(malformed.message).toContain('--set http.port: expected KEY=VALUE')
  })

  it('a flag error names the flag', async () => {
    const { file } = await writeConfig(MINIMAL)
    const err = await loadError(file, { flags: [{ flag: '--http-port', key: 'http.port', value: 99999 }] })
    expect(err.message).toMatch(/^flag --http-port: key "http\.port": must be at most 65535/)
  })

  it('ignores EPHEMERA_ variables whose first segment is not a config key', async () => {
    const { file } = await writeConfig(MINIMAL)
    const config = await loadNodeConfig(file, { env: { EPHEMERA_SOMETHING_ELSE: 'x', EPHEMERA_: 'y', OTHER_HTTP__PORT: 'z' } })
    expect(config.http.port).toBe(8001)
    expect(config).not.toHaveProperty('something_else')
  })

  it('resolves a relative path from the environment against the working directory', async () => {
    const { dir, file } = await writeConfig(MINIMAL)
    const config = await loadNodeConfig(file, { env: { EPHEMERA_KEY_FILE: 'elsewhere.key' } })
    expect(config.key_file).toBe(resolve(process.cwd(), 'elsewhere.key'))
    expect(config.peers_file).toBe(resolve(dir, '..', 'peers.toml'))
  })
})

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
