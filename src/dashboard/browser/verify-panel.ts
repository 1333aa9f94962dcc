import type { Check } from '../../block/verify.js'
import { chainInputOf } from '../../epochs/published.js'
import type { EpochRecordJson } from '../../epochs/record.js'
import { chainLine, verifyEpoch, type ChainInput, type EpochVerification } from '../../epochs/verify-epoch.js'
import { getJson } from './api.js'
import { h, mount } from './dom.js'

/**
 * In-browser verification: the checks of `ephemera verify --epoch E --contract URL`
 * (src/epochs/verify-epoch.ts, the same code), run here with @noble/ed25519 on what the
 * coordinator publishes. A record pasted or loaded from a file goes through the same function,
 * its chain being the published records with it in place of its epoch's.
 */

const NO_CHAIN = 'committee chain: not checked (unticked: it reads every record)'

export class VerifyPanel {
  /** Only the latest request's result is shown. */
  #token = 0

  readonly options: { allowStandalone: () => boolean, withChain: () => boolean }

  constructor (options: { allowStandalone: () => boolean, withChain: () => boolean }) {
    this.options = options
  }

  /** Verifies the coordinator's record of `epoch`. */
  async verifyCommitted (epoch: number): Promise<void> {
    await this.#run(`epoch ${epoch}`, `the coordinator's record (GET /contract/epochs/${epoch})`, async () => {
      const record = await getJson<EpochRecordJson>(`/contract/epochs/${epoch}`)
      return verifyEpoch(record, { epoch, allowStandalone: this.options.allowStandalone(), chain: await this.#chain() })
    })
  }

  /** Verifies a record given as JSON text (pasted, or read from a file). */
  async verifyText (text: string): Promise<void> {
    let record: EpochRecordJson
    try {
      record = JSON.parse(text) as EpochRecordJson
    } catch (err) {
      this.#show('the pasted record', 'your input', { error: `not JSON: ${err instanceof Error ? err.message : String(err)}` })
      return
    }
    if (typeof record !== 'object' || record == null || Array.isArray(record)) {
      this.#show('the pasted record', 'your input', { error: 'not an epoch record (a JSON object, as GET /contract/epochs/{epoch} answers)' })
      return
    }
    const epoch = typeof record.epoch === 'number' ? record.epoch : undefined
    await this.#run(epoch != null ? `the pasted record of epoch ${epoch}` : 'the pasted record', 'your input', async () => {
      const chain = await this.#chain()
      const withIt = 'note' in chain ? chain : { genesis: chain.genesis, records: [...chain.records.filter((r) => r.epoch !== epoch), record] }
      return verifyEpoch(record, { allowStandalone: this.options.allowStandalone(), chain: withIt })
    })
  }

  async #chain (): Promise<ChainInput | { note: string }> {
    return this.options.withChain() ? await chainInputOf(getJson, '') : { note: NO_CHAIN }
  }

  async #run (what: string, source: string, verify: () => Promise<EpochVerification>): Promise<void> {
    const token = ++this.#token
    const target = document.getElementById('verification')
    target?.setAttribute('data-state', 'running')
    target?.setAttribute('data-run', String(token))
    mount('verification', h('p', { class: 'verdict running' }, `verifying ${what}…`))
    let result: EpochVerification | { error: string }
    try {
      result = await verify()
    } catch (err) {
      result = { error: err instanceof Error ? err.message : String(err) }
    }
    if (token === this.#token) this.#show(what, source, result)
  }

  #show (what: string, source: string, result: EpochVerification | { error: string }): void {
    const target = document.getElementById('verification')
    if ('error' in result) {
      target?.setAttribute('data-state', 'error')
      mount('verification', h('p', { class: 'verdict fail' }, `could not verify ${what}: ${result.error}`))
      return
    }
    target?.setAttribute('data-state', result.ok ? 'pass' : 'fail')
    const chain = result.committeeChain
    mount('verification',
      h('p', { class: `verdict ${result.ok ? 'pass' : 'fail'}` }, result.ok
        ? `${what}: verified — all ${result.checks.length} checks hold${result.signers > 0 ? `, certified by ${result.signers} signatures (quorum ${result.quorum})` : ''}`
        : `${what}: FAILED — ${result.failure ?? ''}`),
      h('p', { class: 'detail' }, `${source}, checked in this browser with @noble/ed25519: the same checks as \`ephemera verify\`.`),
      checkList(result.checks, 'checks'),
      h('p', { class: `chain ${chain == null ? '' : chain.ok ? 'pass' : 'fail'}` }, chain != null ? chainLine(chain) : result.committeeChainNote ?? ''),
      chain != null ? h('details', {}, h('summary', {}, `committee chain checks (${chain.checks.length})`), checkList(chain.checks, 'chain-checks')) : null)
  }
}

function checkList (checks: readonly Check[], cls: string): HTMLOListElement {
  return h('ol', { class: cls }, ...checks.map((c) => h('li', { class: `check ${c.ok ? 'ok' : 'fail'}`, 'data-ok': String(c.ok), 'data-name': c.name },
    h('span', { class: 'mark' }, c.ok ? '✓' : '✗'),
    h('span', { class: 'name' }, c.name),
    h('span', { class: 'detail' }, c.detail))))
}
