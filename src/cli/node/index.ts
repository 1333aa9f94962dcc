import { Command, Option } from 'commander'
import { loadNodeConfig } from '../../config/index.js'
import { withHeapWarmth } from '../../util/heap-warmth.js'
import { createLogger, logFileOption, LOG_LEVELS } from '../../util/logger.js'
import { collect, intOption } from '../output.js'
import { runUntilSignal } from '../shutdown.js'

interface RunOptions {
  config: string
  listen?: string
  httpHost?: string
  httpPort?: number
  dataDir?: string
  peersFile?: string
  logLevel?: string
  logFile?: string
  standalone?: boolean
  set?: string[]
}

async function run (opts: RunOptions): Promise<void> {
  const config = await loadNodeConfig(opts.config, {
    flags: [
      { flag: '--listen', key: 'p2p.listen', value: opts.listen },
      { flag: '--http-host', key: 'http.host', value: opts.httpHost },
      { flag: '--http-port', key: 'http.port', value: opts.httpPort },
      { flag: '--data-dir', key: 'data_dir', value: opts.dataDir },
      { flag: '--peers-file', key: 'peers_file', value: opts.peersFile },
      { flag: '--log-level', key: 'log.level', value: opts.logLevel },
      { flag: '--log-file', key: 'log.file', value: opts.logFile },
      { flag: '--standalone', key: 'rewards.standalone', value: opts.standalone === true ? true : undefined }
    ],
    set: opts.set
  })
  const logger = createLogger({ level: config.log.level, base: { node: config.name }, file: logFileOption(config.log) })
  await withHeapWarmth(config.heap.warm_bytes_per_second, async () => {
    await runUntilSignal(logger, 'node', async ({ onFatal }) => {
      // loaded here so that other commands do not pay for importing libp2p
      const { EphemeraNode } = await import('../../node/index.js')
      return await EphemeraNode.init(config, { logger, onFatal })
    })
  })
}

export function nodeCommand (): Command {
  const node = new Command('node').description('run an ephemera node')
  node.command('run')
    .description('start one node: libp2p host, membership, storage and HTTP API')
    .requiredOption('--config <file>', 'node config file (TOML)')
    .option('--listen <multiaddr>', 'override p2p.listen')
    .option('--http-host <host>', 'override http.host')
    .option('--http-port <port>', 'override http.port', intOption(0, 65535))
    .option('--data-dir <dir>', 'override data_dir')
    .option('--peers-file <file>', 'override peers_file')
    .addOption(new Option('--log-level <level>', 'override log.level').choices(LOG_LEVELS))
    .option('--log-file <file>', 'override log.file: JSON log lines to FILE, rotated at log.max_file_bytes, log.max_files kept')
    .option('--standalone', 'rewards baseline without consensus: submit this node\'s own averages straight to the coordinator')
    .option('--set <key=value>', 'override any config key, e.g. --set p2p.dial_backoff_max_ms=2000 (repeatable)', collect)
    .addHelpText('after', `
Configuration is layered: defaults, then the file, then environment variables (EPHEMERA_<KEY>,
with "__" between levels, e.g. EPHEMERA_HTTP__PORT=8080; LOG_LEVEL sets log.level), then flags.
SIGINT/SIGTERM stop the node gracefully; a second signal forces exit. If a write to data_dir fails
(disk full, I/O error) the node logs one fatal line and exits 74 at once; free space, then restart.`)
    .action(async (opts: RunOptions) => { await run(opts) })
  return node
}
