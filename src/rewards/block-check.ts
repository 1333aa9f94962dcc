import { toHex } from '../codec/bytes.js'
import type { Block, ClientMessage } from '../block/types.js'
import { ACCEPT, reject, type Verdict } from '../broadcast/application.js'
import { verifySignature } from '../crypto/keys.js'
import { checkReportMessage, type ReportParameters } from '../epochs/report.js'

/** The signature check of a message whose signature this node already verified. */
const VERIFIED = (): boolean => true

/**
 * Whether a proposed block is a valid rewards block for its round (= epoch): only valid reports
 * for that epoch under the coordinator's parameters, from distinct committee members, sorted by
 * sender key, at least `threshold` of them. `checked(m)`: whether this node already verified the
 * signature of that exact message (its report pool holds it): everything else is checked, the
 * signature not again.
 */
export function checkRewardsBlock (block: Block, rules: { parameters: ReportParameters | undefined, committee: ReadonlySet<string>, threshold: number, checked?: (m: ClientMessage) => boolean }): Verdict {
  const epoch = block.header.round
  // reports commit to the coordinator's parameters: without them nothing can be checked
  const parameters = rules.parameters
  if (parameters == null) return reject('the coordinator has not been reached yet: its parameters are unknown')
  const senders = new Set<string>()
  for (const [i, m] of block.messages.entries()) {
    const verify = rules.checked?.(m) === true ? VERIFIED : verifySignature
    const checked = checkReportMessage(m, { epoch, committee: rules.committee, parameters, verify })
    if (!checked.ok) return reject(`message ${i} is not a valid report for epoch ${epoch}: ${checked.reason}`)
    const sender = toHex(m.publicKey)
    if (senders.has(sender)) return reject(`message ${i} is a second report by the same member`)
    if (i > 0 && sender < toHex((block.messages[i - 1] as ClientMessage).publicKey)) return reject(`message ${i}: reports are not sorted by sender key`)
    senders.add(sender)
  }
  if (senders.size < rules.threshold) return reject(`${senders.size} reports, the threshold is ${rules.threshold}`)
  return ACCEPT
}
