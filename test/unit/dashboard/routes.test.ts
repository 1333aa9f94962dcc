import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpServer } from '../../../src/api/index.js'
import { dashboardUrl, nodeHomePage, registerDashboardRoutes, registerNodeHome } from '../../../src/dashboard/index.js'

/**
 * Serving the dashboard (in-process): the page with a same-origin-only Content-Security-Policy,
 * its assets from an allowlist, JSON errors when the bundle is missing; a node's home page links to
 * its coordinator's dashboard.
 */

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ephemera-dashboard-'))
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>page</title>')
  await writeFile(join(dir, 'app.js'), 'console.log(1)')
  await writeFile(join(dir, 'style.css'), 'body{}')
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function server (bundle: string): HttpServer {
  const s = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
  registerDashboardRoutes(s.app, { dir: bundle })
  return s
}

describe('the coordinator serves the dashboard', () => {
  it('GET /dashboard: the page, allowed to load and fetch from its own origin only', async () => {
    const res = await server(dir).app.inject({ method: 'GET', url: '/dashboard' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toBe('<!doctype html><title>page</title>')
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
  })

  it('its assets by name, with their types; any other name is a JSON 404', async () => {
    const app = server(dir).app
    const js = await app.inject({ method: 'GET', url: '/dashboard/assets/app.js' })
    expect([js.statusCode, js.headers['content-type'], js.body]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log(1)'])
    const css = await app.inject({ method: 'GET', url: '/dashboard/assets/style.css' })
    expect([css.statusCode, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8'])
    for (const url of ['/dashboard/assets/index.html', '/dashboard/assets/..%2Fapp.js', '/dashboard/assets/other.js']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(404)
      expect(res.json()).toMatchObject({ error: 'ERR_NOT_FOUND', message: expect.stringMatching(/^the dashboard has no asset /) })
    }
  })

  it('a missing bundle: JSON 404 saying to build it', async () => {
    const app = server(join(dir, 'nowhere')).app
    for (const url of ['/dashboard', '/dashboard/assets/app.js']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode).toBe(404)
      expect(res.json()).toMatchObject({ error: 'ERR_NOT_FOUND', message: expect.stringMatching(/^the dashboard is not built: .*nowhere.* cannot be read .*; run `npm run build`$/) })
    }
  })

  it('GET / redirects to the dashboard', async () => {
    const res = await server(dir).app.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe('/dashboard')
  })
})

describe('every node links to it', () => {
  it('dashboardUrl: the coordinator URL\'s /dashboard; none without a coordinator', () => {
    expect(dashboardUrl('http://127.0.0.1:7000')).toBe('http://127.0.0.1:7000/dashboard')
    expect(dashboardUrl('http://10.0.0.5:7000/')).toBe('http://10.0.0.5:7000/dashboard')
    expect(dashboardUrl(undefined)).toBeNull()
  })

  it('GET / on a node: a page linking to the dashboard, its names escaped', async () => {
    const s = new HttpServer({ host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
    registerNodeHome(s.app, { name: 'node<1>', dashboard: 'http://127.0.0.1:7000/dashboard' })
    const res = await s.app.inject({ method: 'GET', url: '/' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toContain('<a href="http://127.0.0.1:7000/dashboard">Dashboard (at the coordinator): http://127.0.0.1:7000/dashboard</a>')
    expect(res.body).toContain('ephemera node node&#60;1&#62;')
    expect(nodeHomePage('node1', null)).toContain('No dashboard: this node runs without a coordinator')
  })
})
