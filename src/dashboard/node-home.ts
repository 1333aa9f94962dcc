import type { FastifyInstance } from 'fastify'
import { DOCS_PATH, route } from '../api/openapi.js'
import { DASHBOARD_PATH } from './routes.js'

/**
 * Every node links to its coordinator's dashboard: the node's health answer carries the URL
 * (`dashboard`), and GET / on the node is a small page that links to it (and to the node's own
 * health, metrics and API description).
 */

/** The dashboard of the coordinator at `coordinatorUrl` (null without a coordinator: the messages app). */
export function dashboardUrl (coordinatorUrl: string | undefined): string | null {
  return coordinatorUrl == null ? null : `${coordinatorUrl.replace(/\/+$/, '')}${DASHBOARD_PATH}`
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The node's home page: its name and links. */
export function nodeHomePage (name: string, dashboard: string | null): string {
  const link = (href: string, text: string): string => `<li><a href="${escapeHtml(href)}">${escapeHtml(text)}</a></li>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ephemera ${escapeHtml(name)}</title><link rel="icon" href="data:,"></head>
<body><h1>ephemera node ${escapeHtml(name)}</h1>
<ul>
${dashboard != null ? link(dashboard, `Dashboard (at the coordinator): ${dashboard}`) : '<li>No dashboard: this node runs without a coordinator (app = "messages").</li>'}
${link('/ephemera/node/health', 'Health')}
${link('/readyz', 'Readiness')}
${link('/metrics', 'Metrics (Prometheus)')}
${link(DOCS_PATH, 'API description')}
</ul></body></html>
`
}

export function registerNodeHome (root: FastifyInstance, opts: { name: string, dashboard: string | null }): void {
  const page = nodeHomePage(opts.name, opts.dashboard)
  void root.register(async (app) => {
    app.get('/', {
      schema: route({
        summary: 'Links: the dashboard, health, metrics',
        description: 'A small HTML page linking to the coordinator\'s dashboard (the `dashboard` URL of the health answer) and to this node\'s health, readiness, metrics and API description.',
        tags: ['node']
      })
    }, async (_request, reply) => await reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; img-src data:").send(page))
  })
}
