import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { afterEach, describe, it, expect } from 'vitest'
import { HttpServer } from '../../../src/api/index.js'
import { STATUS_BY_CODE, statusForCode } from '../../../src/api/errors.js'
import { AbortError, EphemeraError, ErrorCode, TimeoutError, type ErrorCodeValue } from '../../../src/util/errors.js'

const root = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url))
const codes = Object.values(ErrorCode) as ErrorCodeValue[]

/** Codes that mean the client's request was at fault; every other code is the server's fault. */
const CLIENT_CODES = new Set<string>([
  ErrorCode.NOT_FOUND, ErrorCode.BAD_REQUEST, ErrorCode.INVALID_ARGUMENT, ErrorCode.MESSAGE_REJECTED,
  ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN, ErrorCode.DUPLICATE, ErrorCode.ALREADY_EXISTS,
  ErrorCode.EPOCH_DECIDED, ErrorCode.SUBMISSION_INVALID, ErrorCode.EPOCH_NOT_READY, ErrorCode.MEMPOOL_FULL,
  ErrorCode.LEASE_HELD, ErrorCode.EPOCH_FAILED, ErrorCode.BANNED, ErrorCode.QUEUE_FULL, ErrorCode.COMMITTEE_SIZE, ErrorCode.EVIDENCE_INVALID
])

const servers: HttpServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await s.app.close() }))
})

function serverThrowing (make: (code: string) => unknown): { server: HttpServer, logs: Array<Record<string, unknown>> } {
  const logs: Array<Record<string, unknown>> = []
  const server = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'debug' }, { write (line: string) { logs.push(JSON.parse(line) as Record<string, unknown>) } }))
  servers.push(server)
  server.app.get<{ Params: { code: string } }>('/throw/:code', async (request) => { throw make(request.params.code) })
  return { server, logs }
}

describe('HTTP status of error codes', () => {
  it('every ErrorCode has an explicit status, 4xx for client faults and 5xx for server faults', () => {
    for (const code of codes) {
      expect(Object.hasOwn(STATUS_BY_CODE, code), `${code} has a status`).toBe(true)
      const status = STATUS_BY_CODE[code]
      expect(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`).toBe(true)
      if (CLIENT_CODES.has(code)) expect(status, code).toBeLessThan(500)
      else expect(status, code).toBeGreaterThanOrEqual(500)
    }
    expect(Object.keys(STATUS_BY_CODE).sort()).toEqual([...codes].sort())
  })

  it('maps the server-side failures named in the issue to 5xx', () => {
    expect(statusForCode(ErrorCode.STORAGE_FAILED)).toBe(503)
    expect(statusForCode(ErrorCode.DB_FAILED)).toBe(503)
    expect(statusForCode(ErrorCode.DB_LOCKED)).toBe(503)
    expect(statusForCode(ErrorCode.ABORTED)).toBe(503)
    expect(statusForCode(ErrorCode.TIMEOUT)).toBe(504)
    expect(statusForCode(ErrorCode.REMOTE)).toBe(502)
    expect(statusForCode('ERR_SOMETHING_NEW')).toBe(500)
    expect(statusForCode('toString')).toBe(500)
    expect(statusForCode('__proto__')).toBe(500)
  })

  it('a handler throwing each code gets that status and a JSON body with the code and message', async () => {
    const { server, logs } = serverThrowing((code) => new EphemeraError(code as ErrorCodeValue, `failed with ${code}`))
    for (const code of codes) {
      const res = await server.app.inject({ url: `/throw/${code}` })
      expect(res.statusCode, code).toBe(STATUS_BY_CODE[code])
      expect(res.json()).toEqual({ error: code, message: `failed with ${code}` })
    }
    // typed server faults are logged; client faults are not
    const logged = logs.filter((l) => l.msg === 'HTTP request failed on the server side').map((l) => l.code)
    expect(logged.sort()).toEqual(codes.filter((c) => !CLIENT_CODES.has(c)).sort())
  })

  it('a typed error with a code this build does not know answers 500, not 400', async () => {
    const { server } = serverThrowing((code) => new EphemeraError(code as ErrorCodeValue, 'from a newer module'))
    const res = await server.app.inject({ url: '/throw/ERR_FROM_THE_FUTURE' })
    expect(res.statusCode).toBe(500)
    expect(res.json()).toEqual({ error: 'ERR_FROM_THE_FUTURE', message: 'from a newer module' })
  })

  it('the error subclasses and plain exceptions get the right class of status', async () => {
    const thrown: Record<string, () => unknown> = {
      abort: () => new AbortError(),
      timeout: () => new TimeoutError(),
      plain: () => new Error('secret detail'),
      string: () => 'not even an Error'
    }
    const { server } = serverThrowing((kind) => (thrown[kind] as () => unknown)())
    expect((await server.app.inject({ url: '/throw/abort' })).statusCode).toBe(503)
    expect((await server.app.inject({ url: '/throw/timeout' })).statusCode).toBe(504)
    for (const kind of ['plain', 'string']) {
      const res = await server.app.inject({ url: `/throw/${kind}` })
      expect(res.statusCode, kind).toBe(500)
      expect(res.json()).toEqual({ error: 'ERR_INTERNAL', message: 'internal error' })
    }
  })

  it('docs/ERRORS.md gives each code the status the server uses', async () => {
    const text = await readFile(root('docs/ERRORS.md'), 'utf8')
    const rows = new Map([...text.matchAll(/^\| `(ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])]))
    for (const code of codes) expect(rows.get(code), `docs/ERRORS.md row for ${code}`).toBe(STATUS_BY_CODE[code])
    expect(rows.get('ERR_INTERNAL')).toBe(500)
  })

  it('README "HTTP API" names every 5xx code', async () => {
    const readme = await readFile(root('README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## HTTP API'), readme.indexOf('| route | answer |'))
    for (const code of codes.filter((c) => STATUS_BY_CODE[c] !== 500 && STATUS_BY_CODE[c] >= 500)) {
      expect(section, `README names ${code}`).toContain(`\`${code}\``)
    }
  })
})
