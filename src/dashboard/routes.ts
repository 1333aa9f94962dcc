import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { route } from '../api/openapi.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'

/**
 * The coordinator serves the dashboard (README "Dashboard"): GET /dashboard is the page, its
 * script and style under /dashboard/assets/, all from the bundle `npm run build` writes to
 * dist/dashboard (scripts/build-dashboard.mjs). Nothing is fetched from elsewhere: the page's
 * Content-Security-Policy allows this origin only.
 */

export const DASHBOARD_PATH = '/dashboard'
export const DASHBOARD_TAG = { name: 'dashboard', description: 'The live dashboard page, with in-browser verification of any epoch.' }

/** The files of the bundle, by the name they are served under, with their content types. */
const ASSETS: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * Where the bundle is: dist/dashboard, seen from this module built (dist/src/dashboard) or in a
 * chunk of the bundled CLI (dist/bin/chunks, scripts/bundle-cli.mjs), or run from its source
 * (src/dashboard, as in tests).
 */
export function defaultDashboardDir (): string {
  const candidates = ['../../dashboard', '../../dist/dashboard'].map((p) => fileURLToPath(new URL(p, import.meta.url)))
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? (candidates[0] as string)
}

async function bundleFile (dir: string, name: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, name))
  } catch (err) {
    throw new EphemeraError(ErrorCode.NOT_FOUND, `the dashboard is not built: ${join(dir, name)} cannot be read (${errorMessage(err)}); run \`npm run build\``)
  }
}

export function registerDashboardRoutes (root: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = opts.dir ?? defaultDashboardDir()
  void root.register(async (app) => {
    app.get(DASHBOARD_PATH, {
      schema: route({
        summary: 'The dashboard',
        description: 'An HTML page that shows the coordinator live (epoch and phase, committee and queue, each member\'s status, recent epochs with winner, chunks and latency, a latency chart, drops, bans and evidence) and verifies any epoch in the browser with the checks of `ephemera verify`. It reads this API and nothing else.',
        tags: [DASHBOARD_TAG.name]
      })
    }, async (_request, reply) => {
      const page = await bundleFile(dir, 'index.html')
      return await reply.type('text/html; charset=utf-8').header('content-security-policy', CSP).header('cache-control', 'no-cache').send(page)
    })
    app.get<{ Params: { file: string } }>(`${DASHBOARD_PATH}/assets/:file`, { schema: { hide: true } }, async (request, reply) => {
      const type = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined
      if (type == null) throw new EphemeraError(ErrorCode.NOT_FOUND, `the dashboard has no asset ${request.params.file}`)
      const body = await bundleFile(dir, request.params.file)
      return await reply.type(type).header('cache-control', 'no-cache').send(body)
    })
    app.get('/', { schema: { hide: true } }, async (_request, reply) => await reply.redirect(DASHBOARD_PATH))
  })
}
