import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { loadContractConfig, loadNodeConfig } from '../../../src/config/index.js'
import { tempDir } from '../tmp.js'

/** http.ws_max_clients, http.ws_max_buffered_bytes and http.ws_max_replay (nodes and coordinator): defaults, every layer, and their bounds. */

const MINIMAL = 'name = "node1"\nkey_file = "node.key"\npeers_file = "../peers.toml"\n'

async function writeConfig (text: string): Promise<string> {
  const file = join(await tempDir(), 'config.toml')
  await writeFile(file, text)
  return file
}

describe('http.ws_* keys', () => {
  it('default to 64 clients, 4 MiB per client and replays of 1000 blocks or epochs, on nodes and the coordinator', async () => {
    const config = await loadNodeConfig(await writeConfig(MINIMAL), { env: {} })
    expect(config.http).toMatchObject({ ws_max_clients: 64, ws_max_buffered_bytes: 4 * 1024 * 1024, ws_max_replay: 1000 })
    const contract = await loadContractConfig(await writeConfig('peers_file = "peers.toml"\n'), { env: {} })
    expect(contract.http).toMatchObject({ ws_max_clients: 64, ws_max_buffered_bytes: 4 * 1024 * 1024, ws_max_replay: 1000 })
    const set = await loadContractConfig(await writeConfig('peers_file = "peers.toml"\n[http]\nws_max_replay = 20\n'), { env: { EPHEMERA_CONTRACT_HTTP__WS_MAX_CLIENTS: '2' } })
    expect(set.http).toMatchObject({ ws_max_clients: 2, ws_max_replay: 20 })
  })

  it('are read from the file, the environment and --set', async () => {
    const file = await writeConfig(`${MINIMAL}[http]\nws_max_clients = 3\nws_max_buffered_bytes = 100000\n`)
    expect((await loadNodeConfig(file, { env: {} })).http).toMatchObject({ ws_max_clients: 3, ws_max_buffered_bytes: 100_000 })
    const env = { EPHEMERA_HTTP__WS_MAX_CLIENTS: '5' }
    expect((await loadNodeConfig(file, { env })).http.ws_max_clients).toBe(5)
    expect((await loadNodeConfig(file, { env, set: ['http.ws_max_buffered_bytes=65536'] })).http.ws_max_buffered_bytes).toBe(65_536)
  })

  it.each([
    ['ws_max_clients = 0', /key "http\.ws_max_clients": must be at least 1, got 0/],
    ['ws_max_clients = 1.5', /key "http\.ws_max_clients": expected an integer/],
    ['ws_max_buffered_bytes = 1024', /key "http\.ws_max_buffered_bytes": must be at least 65536, got 1024/],
    ['ws_max_buffered_bytes = 4294967296', /key "http\.ws_max_buffered_bytes": must be at most 1073741824/],
    ['ws_max_replay = 0', /key "http\.ws_max_replay": must be at least 1, got 0/]
  ])('refuses %s with a one-line error naming the file and key', async (line, message) => {
    const file = await writeConfig(`${MINIMAL}[http]\n${line}\n`)
    const err = await loadNodeConfig(file, { env: {} }).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.message).toMatch(message)
    expect(err?.message.startsWith(file)).toBe(true)
    expect(err?.message).not.toContain('\n')
  })

  it('refuses a bad value from the environment naming the variable', async () => {
    const err = await loadNodeConfig(await writeConfig(MINIMAL), { env: { EPHEMERA_HTTP__WS_MAX_CLIENTS: 'lots' } }).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.message).toMatch(/^environment variable EPHEMERA_HTTP__WS_MAX_CLIENTS: key "http\.ws_max_clients": expected a number, got "lots"/)
  })
})
