import { snapshot, type Snapshot } from './api.js'
import { mount } from './dom.js'
import { VerifyPanel } from './verify-panel.js'
import { renderChart, renderEpochs, renderEvents, renderMembers, renderNow } from './views.js'

/**
 * The dashboard page (src/dashboard/static/index.html): refreshes from the coordinator's HTTP API
 * every REFRESH_MS (one refresh at a time), and verifies epochs in the browser on request.
 */

const REFRESH_MS = 2000

const checked = (id: string): boolean => (document.getElementById(id) as HTMLInputElement | null)?.checked ?? false
const panel = new VerifyPanel({ allowStandalone: () => checked('allow-standalone'), withChain: () => checked('with-chain') })

/** The last refresh, and the epoch verified last (its row is highlighted). */
let last: Snapshot | undefined
let selected: number | undefined

function verify (epoch: number): void {
  selected = epoch
  if (last != null) renderEpochs(last, verify, selected)
  void panel.verifyCommitted(epoch)
}

function render (s: Snapshot): void {
  last = s
  renderNow(s)
  renderChart(s)
  renderMembers(s)
  renderEpochs(s, verify, selected)
  renderEvents(s)
}

function status (ok: boolean, text: string): void {
  const conn = document.getElementById('conn')
  conn?.setAttribute('data-ok', String(ok))
  mount('conn', text)
}

async function refresh (): Promise<void> {
  try {
    const s = await snapshot()
    render(s)
    status(true, `live · updated ${new Date(s.at).toLocaleTimeString()}`)
  } catch (err) {
    status(false, `coordinator unreachable: ${err instanceof Error ? err.message : String(err)} (retrying)`)
  }
}

async function loop (): Promise<void> {
  await refresh()
  setTimeout(() => { void loop() }, REFRESH_MS)
}

function wireRecordInput (): void {
  const input = document.getElementById('record-input') as HTMLTextAreaElement | null
  const file = document.getElementById('record-file') as HTMLInputElement | null
  document.getElementById('verify-pasted')?.addEventListener('click', () => { void panel.verifyText(input?.value ?? '') })
  file?.addEventListener('change', () => {
    const chosen = file.files?.[0]
    if (chosen == null) return
    void chosen.text().then((text) => {
      if (input != null) input.value = text
      return panel.verifyText(text)
    })
  })
}

wireRecordInput()
void loop()
