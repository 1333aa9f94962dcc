import { Command, Option } from 'commander'
import { assertClusterStopped } from '../../cluster/index.js'
import { DEFAULT_BASE_PORT, initNetwork, MAX_NODES } from '../../config/generate.js'
import { MAX_MIXNODES } from '../../epochs/report.js'
import { intOption, printJson, println, table } from '../output.js'

export function initCommand (): Command {
  return new Command('init')
    .description('create keys, node configs and the peers file for a local network of N nodes')
    .requiredOption('--out <dir>', 'directory to write into (created if missing)')
    .option('--nodes <n>', `number of nodes (1-${MAX_NODES})`, intOption(1, MAX_NODES), 4)
    .option('--base-port <port>', 'first port: coordinator BASE, node k p2p BASE+2k-1 and HTTP BASE+2k', intOption(1024, 65535), DEFAULT_BASE_PORT)
    .option('--host <ipv4>', 'IPv4 address the nodes listen on and advertise', '127.0.0.1')
    .addOption(new Option('--app <app>', 'what the nodes run: the rewards pipeline, or plain client messages').choices(['rewards', 'messages']).default('rewards'))
    .option('--mixnodes <m>', 'simulated mixnodes (nodes and coordinator)', intOption(1, MAX_MIXNODES), 100)
    .addOption(new Option('--environment <name>', 'coordinator preset: epoch 2 s / 10 s / 3600 s').choices(['testing', 'development', 'production']).default('development'))
    .option('--epoch-seconds <s>', 'override the preset\'s epoch length', intOption(1, 86_400))
    .option('--force', 'overwrite existing keys and configs (new identities; wipes the nodes\' data); refused while a process of DIR runs', false)
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', `
Writes DIR/peers.toml, DIR/coordinator/config.toml and, per node, DIR/nodeK/config.toml and
DIR/nodeK/node.key (mode 0600); last, the marker DIR/.ephemera-cluster.json that \`cluster clear\`
requires before it deletes anything.
Refuses to overwrite existing keys unless --force is given. --force is refused while any process of
DIR runs: what DIR/cluster.json records (supervisor, nodes, coordinator), and any process whose
--config names one of DIR's config files (e.g. a node started by hand).

Example:
  ephemera init --nodes 4 --out ./net && ephemera node run --config ./net/node1/config.toml`)
    .action(async (opts: { out: string, nodes: number, basePort: number, host: string, app: 'rewards' | 'messages', mixnodes: number, environment: 'testing' | 'development' | 'production', epochSeconds?: number, force: boolean, json: boolean }) => {
      // new identities and wiped data under running processes would leave them with neither
      if (opts.force) await assertClusterStopped(opts.out, 'refusing to replace its keys and wipe its data')
      const result = await initNetwork({
        nodes: opts.nodes, out: opts.out, basePort: opts.basePort, host: opts.host, force: opts.force,
        app: opts.app, mixnodes: opts.mixnodes, environment: opts.environment, epochMs: opts.epochSeconds == null ? undefined : opts.epochSeconds * 1000
      })
      if (opts.json) {
        printJson(result)
        return
      }
      println(`initialised ${result.nodes.length} node${result.nodes.length === 1 ? '' : 's'} in ${result.dir}`)
      println(table([['NAME', 'PEER ID', 'P2P', 'HTTP', 'CONFIG'], ...result.nodes.map((n) => [n.name, n.peerId, n.address, n.httpUrl, n.configFile])]))
      println(`peers file: ${result.peersFile}`)
      println(`coordinator: ${result.coordinatorUrl} (config ${result.coordinatorConfig})`)
    })
}
