import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EpochRecordJson } from '../../src/epochs/record.js'
import { killTracked, runCli } from '../helpers/cli.js'
import { freePortBlock, getJson, makeTempDir, processesMentioning, removeDir, waitFor } from '../helpers/env.js'

/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * served by a real coordinator with 4 nodes (2-second epochs): the page loads and lists the
 * committed epochs; "Verify" on a real epoch passes every check, the same checks with the same
 * details as `ephemera verify`; the same button on a tampered copy of the record (served by
 * intercepting the page's request) fails and shows the failed check, as does a pasted record with
 * a changed reward; the page asks nothing of any other host. Nodes link to the dashboard.
 * EPHEMERA_SKIP_BROWSER=1 skips the browser part (where Chromium cannot be installed); without it a
 * missing Chromium fails the test.
 */

const CHROMIUM = '/usr/bin/chromium'
const SKIP_BROWSER = process.env.EPHEMERA_SKIP_BROWSER === '1'

interface ClusterJson {
  coordinator: { httpUrl: string }
  nodes: Array<{ name: string, httpUrl: string }>
}

interface EpochList { currentEpoch: number, epochs: Array<{ epoch: number, status: string }> }

const committed = async (contract: string): Promise<number[]> =>
  (await getJson<EpochList>(`${contract}/contract/epochs?limit=50`)).epochs.filter((e) => e.status === 'committed').map((e) => e.epoch)

/** `name: detail` of every check the page shows for the last verification. */
async function shownChecks (page: Page): Promise<Array<{ line: string, ok: string | null }>> {
  const items = page.locator('#verification ol.checks li.check')
  const names = await items.locator('.name').allTextContents()
  const details = await items.locator('.detail').allTextContents()
  const oks = await Promise.all((await items.all()).map(async (li) => await li.getAttribute('data-ok')))
  return names.map((name, i) => ({ line: `${name}: ${details[i] ?? ''}`, ok: oks[i] ?? null }))
}

/** Presses a button that starts a verification and waits for that verification's verdict (pass, fail or error). */
async function verdictOf (page: Page, button: string): Promise<string> {
  const run = Number(await page.locator('#verification').getAttribute('data-run') ?? 0) + 1
  await page.locator(button).click()
  const done = ['pass', 'fail', 'error'].map((state) => `#verification[data-run="${run}"][data-state="${state}"]`).join(', ')
  await page.waitForSelector(done, { timeout: 30_000 })
  return await page.locator('#verification').getAttribute('data-state') ?? ''
}

/** Presses Verify on a committed epoch's row and waits for the verdict. */
async function verifyInPage (page: Page, epoch: number): Promise<string> {
  return await verdictOf(page, `#epochs tr[data-epoch="${epoch}"] button.verify`)
}

const flipHex = (hex: string, at: number): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1)

describe('dashboard: coordinator + 4 nodes', () => {
  let dir: string
  let cluster: ClusterJson
  let contract: string

  beforeAll(async () => {
    dir = await makeTempDir()
    const base = await freePortBlock(12)
    const init = await runCli(['init', '--nodes', '4', '--out', dir, '--base-port', String(base), '--environment', 'testing'])
    expect(init.code, init.stderr).toBe(0)
    const up = await runCli(['cluster', 'up', '--dir', dir, '--detach', '--timeout', '40'], { timeoutMs: 60_000 })
    expect(up.code, up.stderr).toBe(0)
    cluster = JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterJson
    contract = cluster.coordinator.httpUrl
    await waitFor(async () => (await committed(contract)).length >= 2, { timeoutMs: 40_000, intervalMs: 250, what: 'two committed epochs' })
  }, 120_000)

  afterAll(async () => {
    await runCli(['cluster', 'down', '--dir', dir], { timeoutMs: 30_000 })
    for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
    killTracked()
    await removeDir(dir)
  })

  describe.skipIf(SKIP_BROWSER)('in Chromium', () => {
    let browser: Browser | undefined
    afterAll(async () => { await browser?.close() })

    it('loads, lists the committed epochs, verifies a real epoch (as `ephemera verify` does) and fails a tampered one; nothing is asked of another host', async () => {
      expect(existsSync(CHROMIUM), `Chromium is not installed at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does it when missing), or set EPHEMERA_SKIP_BROWSER=1 to skip the browser test`).toBe(true)
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
      const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
      const requests: string[] = []
      const errors: string[] = []
      page.on('request', (r) => { requests.push(r.url()) })
      page.on('pageerror', (err) => { errors.push(err.message) })

      await page.goto(`${contract}/dashboard`)
      // the committed epochs are listed, each with its Verify button; the committee and the chart are shown
      const listed = await committed(contract)
      await page.waitForSelector(`#epochs tr[data-epoch="${listed[0] as number}"][data-status="committed"]`, { timeout: 15_000 })
      // (the table shows the newest 20; fewer have committed by now)
      for (const epoch of listed.slice(0, 20)) expect(await page.locator(`#epochs tr[data-epoch="${epoch}"][data-status="committed"] button.verify`).count(), `epoch ${epoch} listed with a Verify button`).toBe(1)
      expect(await page.locator('#members tr[data-member]').count()).toBe(4)
      expect(await page.locator('#members tr[data-state="banned"]').count()).toBe(0)
      expect(Number(await page.locator('#current-epoch').textContent())).toBeGreaterThan(listed[0] as number)
      expect(await page.locator('#chart svg circle.dot').count()).toBeGreaterThanOrEqual(2)

      // a real epoch: every check passes, exactly the checks and details `ephemera verify` prints
      const epoch = listed[0] as number
      expect(await verifyInPage(page, epoch)).toBe('pass')
      const shown = await shownChecks(page)
      expect(shown.length).toBeGreaterThan(20)
      expect(shown.filter((c) => c.ok !== 'true')).toEqual([])
      const cli = await runCli(['verify', '--epoch', String(epoch), '--contract', contract])
      expect(cli.code, cli.stdout + cli.stderr).toBe(0)
      const cliChecks = cli.stdout.split('\n').filter((l) => l.startsWith('  ok    ') || l.startsWith('  FAIL  ')).map((l) => l.slice(8))
      expect(shown.map((c) => c.line)).toEqual(cliChecks)
      expect(await page.locator('#verification .verdict').textContent()).toMatch(new RegExp(`^epoch ${epoch}: verified — all ${shown.length} checks hold, certified by [34] signatures \\(quorum 3\\)$`))
      expect(await page.locator('#verification .chain').textContent()).toMatch(/^committee chain: 0 changes over \d+ records, every record's committee follows from genesis$/)

      // the same button on a tampered copy (a READY signature changed): the same code path fails
      const record = await getJson<EpochRecordJson>(`${contract}/contract/epochs/${epoch}`)
      const tampered = structuredClone(record)
      const signature = tampered.submission.certificate!.signatures[1]!
      signature.signature = flipHex(signature.signature, 10)
      await page.route(`**/contract/epochs/${epoch}`, async (route) => { await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(tampered) }) })
      expect(await verifyInPage(page, epoch)).toBe('fail')
      await page.unroute(`**/contract/epochs/${epoch}`)
      const failed = (await shownChecks(page)).filter((c) => c.ok !== 'true')
      // with exactly a quorum of signatures, one bad signature also leaves the quorum short
      const signers = record.submission.certificate!.signatures.length
      expect(failed.map((c) => c.line)).toEqual([
        expect.stringMatching(/^certificate signatures: signature 1 \(by 12D3KooW\w+\): signature does not verify$/),
        ...(signers === 3 ? ['quorum: 2 distinct members signed, quorum is 3 of 4'] : [])
      ])
      expect(await page.locator('#verification li.check.fail .mark').allTextContents()).toEqual(failed.map(() => '✗'))
      expect(await page.locator('#verification .verdict').textContent()).toMatch(new RegExp(`^epoch ${epoch}: FAILED — certificate signatures: signature 1 \\(by 12D3KooW\\w+\\): signature does not verify$`))

      // a pasted record with a changed reward fails on the rewards check; the real one pasted passes
      const changed = structuredClone(record)
      const row = changed.submission.rewards.find((r) => r.reward !== '0')!
      row.reward = String(BigInt(row.reward) + 1n)
      await page.locator('#paste summary').click()
      await page.locator('#record-input').fill(JSON.stringify(changed))
      expect(await verdictOf(page, '#verify-pasted')).toBe('fail')
      expect((await shownChecks(page)).filter((c) => c.ok !== 'true').map((c) => c.line)).toEqual([expect.stringMatching(new RegExp(`^rewards: rewards\\[${row.mixnode}\\]\\.reward is "${row.reward}", the reports give "`))])
      await page.locator('#record-input').fill(JSON.stringify(record))
      expect(await verdictOf(page, '#verify-pasted')).toBe('pass')
      expect(await page.locator('#verification .verdict').textContent()).toMatch(new RegExp(`^the pasted record of epoch ${epoch}: verified`))

      // everything came from the coordinator: no other host, no script error
      const origin = new URL(contract).origin
      expect(requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin)).toEqual([])
      expect(requests).toContain(`${origin}/dashboard/assets/app.js`)
      expect(errors).toEqual([])
    }, 120_000)
  })

  it('every node links to the dashboard: its health answer and its home page; the coordinator\'s / leads there', async () => {
    const dashboard = `${contract}/dashboard`
    for (const node of cluster.nodes) {
      expect((await getJson<{ dashboard: string | null }>(`${node.httpUrl}/ephemera/node/health`)).dashboard).toBe(dashboard)
      const home = await fetch(`${node.httpUrl}/`)
      expect(home.status).toBe(200)
      expect(await home.text()).toContain(`<a href="${dashboard}">`)
    }
    const root = await fetch(`${contract}/`, { redirect: 'manual' })
    expect([root.status, root.headers.get('location')]).toEqual([302, '/dashboard'])
    const page = await fetch(dashboard)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<script type="module" src="/dashboard/assets/app.js">')
  })
})
