import { Command } from 'commander'
import type { EpochSummary } from '../../contract/api.js'
import type { EpochRecordJson } from '../../epochs/record.js'
import { nodeUrl, requestJson } from '../http-client.js'
import { intOption, printJson, println, table } from '../output.js'

function percent (hundredths: number | null): string {
  return hundredths == null ? 'insufficient' : `${(hundredths / 100).toFixed(2)} %`
}

function printRecord (r: EpochRecordJson): void {
  const s = r.submission
  println(`epoch ${r.epoch}: ${new Date(r.startMs).toISOString()} – ${new Date(r.endMs).toISOString()}`)
  println(`  winner       ${r.winner.name} (${r.winner.peerId})`)
  println(`  accepted     ${new Date(r.acceptedAt).toISOString()}, ${r.latencyMs} ms after the epoch ended`)
  println(`  mode         ${s.mode}`)
  if (s.mode === 'consensus') {
    println(`  block        ${s.blockHash ?? ''} (round ${s.header?.round ?? '?'}, by ${s.header?.creator ?? '?'})`)
    println(`  certificate  ${s.certificate?.signatures.length ?? 0} signatures of ${r.committee.members.length} members`)
  }
  println(`  reports      ${s.reports.length}`)
  println(`  aggregation  ${r.parameters.aggregation}, min ${r.parameters.minValues} values, pool ${r.parameters.rewardPool}`)
  const rewarded = s.rewards.filter((row) => row.performance != null)
  println(`  mixnodes     ${s.rewards.length} (${rewarded.length} rewarded, ${s.rewards.length - rewarded.length} insufficient)`)
  println(table([['    MIXNODE', 'PERFORMANCE', 'VALUES', 'REWARD'], ...s.rewards.slice(0, 10).map((row) => [`    ${row.mixnode}`, percent(row.performance), String(row.values), row.reward])]))
  if (s.rewards.length > 10) println(`    … ${s.rewards.length - 10} more (--json shows all)`)
}

export function epochsCommand (): Command {
  const epochs = new Command('epochs').description('read epoch records from the coordinator')
  epochs.command('list')
    .description('recent epochs: committed (winner, block, latency), open or pending')
    .requiredOption('--contract <url>', 'coordinator URL, e.g. http://127.0.0.1:7000')
    .option('--limit <n>', 'how many', intOption(1, 1000), 20)
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: { contract: string, limit: number, json: boolean }) => {
      const result = await requestJson<{ currentEpoch: number, epochs: EpochSummary[] }>('GET', `${nodeUrl(opts.contract)}/contract/epochs?limit=${opts.limit}`)
      if (opts.json) {
        printJson(result)
        return
      }
      println(`current epoch: ${result.currentEpoch}`)
      println(table([['EPOCH', 'STATUS', 'WINNER', 'BLOCK', 'REPORTS', 'SIGNATURES', 'LATENCY'], ...result.epochs.map((e) => [
        String(e.epoch), e.status, e.winner ?? '-', e.blockHash == null ? '-' : e.blockHash.slice(0, 16), e.reports == null ? '-' : String(e.reports),
        e.signatures == null ? '-' : String(e.signatures), e.latencyMs == null ? '-' : `${e.latencyMs} ms`
      ])]))
    })
  epochs.command('show')
    .description('one epoch\'s record: winner, block, certificate, reward table')
    .argument('<epoch>', 'epoch number', intOption(1, Number.MAX_SAFE_INTEGER))
    .requiredOption('--contract <url>', 'coordinator URL')
    .option('--json', 'print the full record as JSON', false)
    .action(async (epoch: number, opts: { contract: string, json: boolean }) => {
      const record = await requestJson<EpochRecordJson>('GET', `${nodeUrl(opts.contract)}/contract/epochs/${epoch}`)
      if (opts.json) printJson(record)
      else printRecord(record)
    })
  return epochs
}
