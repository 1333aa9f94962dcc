import { Command, Option } from 'commander'
import { loadContractConfig } from '../../config/index.js'
import { withHeapWarmth } from '../../util/heap-warmth.js'
import { createLogger, logFileOption, LOG_LEVELS } from '../../util/logger.js'
import { collect, intOption } from '../output.js'
import { runUntilSignal } from '../shutdown.js'
import { addAdminCommands } from './admin.js'
import { contractStatus } from './status.js'

interface RunOptions {
  config: string
  httpHost?: string
  httpPort?: number
  dataDir?: string
  environment?: string
  epochMs?: number
  logLevel?: string
  logFile?: string
  set?: string[]
}

async function run (opts: RunOptions): Promise<void> {
  const config = await loadContractConfig(opts.config, {
    flags: [
      { flag: '--http-host', key: 'http.host', value: opts.httpHost },
      { flag: '--http-port', key: 'http.port', value: opts.httpPort },
      { flag: '--data-dir', key: 'data_dir', value: opts.dataDir },
      { flag: '--environment', key: 'environment', value: opts.environment },
      { flag: '--epoch-ms', key: 'epoch_ms', value: opts.epochMs },
      { flag: '--log-level', key: 'log.level', value: opts.logLevel },
      { flag: '--log-file', key: 'log.file', value: opts.logFile }
    ],
    set: opts.set
  })
  const logger = createLogger({ level: config.log.level, base: { node: config.name }, file: logFileOption(config.log) })
  await withHeapWarmth(config.heap.warm_bytes_per_second, async () => {
    await runUntilSignal(logger, 'coordinator', async ({ onFatal }) => {
      const { ContractService } = await import('../../contract/service.js')
      return await ContractService.start(config, { logger, onFatal })
    })
  })
}

export function contractCommand (): Command {
  const contract = new Command('contract').description('the epoch coordinator ("the contract") the nodes submit rewards to')
  contract.command('run')
    .description('start the coordinator: epoch clock, committee, first-valid-submission-wins records, HTTP API')
    .requiredOption('--config <file>', 'coordinator config file (TOML)')
    .option('--http-host <host>', 'override http.host')
    .option('--http-port <port>', 'override http.port', intOption(0, 65535))
    .option('--data-dir <dir>', 'override data_dir')
    .addOption(new Option('--environment <name>', 'override environment').choices(['testing', 'development', 'production']))
    .option('--epoch-ms <ms>', 'override epoch_ms (timeouts scale along)', intOption(500, 86_400_000))
    .addOption(new Option('--log-level <level>', 'override log.level').choices(LOG_LEVELS))
    .option('--log-file <file>', 'override log.file: JSON log lines to FILE, rotated at log.max_file_bytes, log.max_files kept')
    .option('--set <key=value>', 'override any config key (repeatable)', collect)
    .addHelpText('after', `
Configuration is layered: defaults, the file, environment variables (EPHEMERA_CONTRACT_<KEY>, "__"
between levels, e.g. EPHEMERA_CONTRACT_HTTP__PORT=7000; LOG_LEVEL sets log.level), then flags.
The genesis time is fixed at the first start and kept in data_dir, so epochs survive restarts.
If a write to data_dir fails (disk full, I/O error) the coordinator logs one fatal line and exits 74
at once, having answered nothing it had not stored; free space, then restart.`)
    .action(async (opts: RunOptions) => { await run(opts) })
  contract.command('status')
    .description('the living committee (changes, queue, staged, drops, bans, lock) and the open rounds: leases, contributions, verifications, rollbacks')
    .requiredOption('--contract <url>', 'coordinator URL')
    .option('--json', 'print {epoch, environment, rounds, membership} as JSON', false)
    .addHelpText('after', `
The committee: the committee of the current epoch (size, membership id), the changes kept with their
effective epochs and decisions (admitted, left, dropped, banned), the queue, the admissions and
removals staged for the next change, consecutive missed epochs, drops with their reasons, bans with
their reason and evidence hash, and the manual lock (README "A living committee").

Each epoch's round opens when the epoch ends. Its reward table is split into chunks; each chunk is
leased to one member (by rotation), uploaded by it, and checked by assigned verifiers; when every
chunk is verified the coordinator commits the epoch. A lease whose holder misses its deadline passes
to the next member; an attempt that does not complete rolls back (contributions cleared, holders
rotated); an epoch not committed by its finalization deadline is marked failed with the reason.`)
    .action(async (opts: { contract: string, json: boolean }) => { await contractStatus(opts) })
  addAdminCommands(contract)
  return contract
}
