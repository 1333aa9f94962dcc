#!/usr/bin/env node
// The README's screenshot of the dashboard (docs/dashboard.png), taken from a real cluster: a
// coordinator and 4 nodes (2-second epochs) started from the built CLI in a temporary directory,
// the page opened in headless Chromium (Debian's `chromium`, driven by playwright-core) once
// --epochs epochs have committed, the newest committed epoch verified in the page, then the
// cluster stopped and the directory removed.
//   npm run build && node scripts/screenshot-dashboard.mjs [--out docs/dashboard.png] [--epochs 12] [--chromium /usr/bin/chromium]
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

const root = fileURLToPath(new URL('..', import.meta.url))
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'docs', 'dashboard.png') },
    epochs: { type: 'string', default: '12' },
    chromium: { type: 'string', default: '/usr/bin/chromium' }
  }
})
const cli = (...args) => {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'bin', 'ephemera.js'), ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 120_000 })
  if (r.status !== 0) throw new Error(`ephemera ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r.stdout
}
const free = (port) => new Promise((resolve) => {
  const s = createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
})
/** 12 consecutive free ports below the kernel's ephemeral range. */
async function portBlock () {
  for (let i = 0; i < 100; i++) {
    const base = 20_000 + Math.floor(Math.random() * 10_000)
    let ok = true
    for (let p = base; p < base + 12 && ok; p++) ok = await free(p)
    if (ok) return base
  }
  throw new Error('no free ports')
}
async function waitFor (what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ephemera-screenshot-'))
let browser
try {
  cli('init', '--nodes', '4', '--out', dir, '--base-port', String(await portBlock()), '--environment', 'testing')
  cli('cluster', 'up', '--dir', dir, '--detach', '--timeout', '60')
  const contract = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')).coordinator.httpUrl
  const wanted = Number(opts.epochs)
  const committed = async () => (await (await fetch(`${contract}/contract/epochs?limit=100`)).json()).epochs.filter((e) => e.status === 'committed').map((e) => e.epoch)
  await waitFor(`${wanted} committed epochs`, async () => (await committed()).length >= wanted, 60_000 + wanted * 4_000)
  browser = await chromium.launch({ executablePath: opts.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 })
  await page.goto(`${contract}/dashboard`)
  const newest = (await committed())[0]
  await page.waitForSelector(`#epochs tr[data-epoch="${newest}"] button.verify`, { timeout: 15_000 })
  await page.locator(`#epochs tr[data-epoch="${newest}"] button.verify`).click()
  await page.waitForSelector('#verification[data-state="pass"]', { timeout: 30_000 })
  await page.mouse.move(0, 0)
  await page.screenshot({ path: opts.out, fullPage: true })
  console.log(`wrote ${opts.out} (epoch ${newest} verified in the page)`)
} finally {
  await browser?.close()
  try { cli('cluster', 'down', '--dir', dir) } catch (err) { console.error(err.message) }
  rmSync(dir, { recursive: true, force: true })
}
