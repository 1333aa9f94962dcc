import { Command, Option } from 'commander'
import { assertClusterStopped } from '../../cluster/index.js'
import { DEFAULT_BASE_PORT, initNetwork, MAX_NODES } from '../../config/generate.js'
import { MAX_MIXNODES } from '../../epochs/report.js'
import { EphemeraError, ErrorCode } from '../../util/errors.js'
import { intOption, printJson, println, table } from '../output.js'
import { initJoin } from './join.js'

interface InitCliOptions {
  out: string
  nodes: number
  basePort: number
  host: string
  nodeHosts?: string[]
  coordinatorHost?: string
  app: 'rewards' | 'messages'
  mixnodes: number
  environment: 'testing' | 'development' | 'production'
  epochSeconds?: number
  force: boolean
  json: boolean
  join?: string
  name?: string
}

/** Flags that describe a whole new network: meaningless with --join. */
const NETWORK_FLAGS = ['nodes', 'nodeHosts', 'coordinatorHost', 'app', 'mixnodes', 'environment', 'epochSeconds']

/** `--node-hosts 10.0.0.2,10.0.0.3`: one address per node, in order (checked by initNetwork). */
function hostList (value: string): string[] {
  return value.split(',').map((h) => h.trim())
}

export function initCommand (): Command {
  return new Command('init')
    .description('create keys, node configs and the peers file for a network of N nodes (one machine or several), or (--join) one validator\'s files for an existing network')
    .requiredOption('--out <dir>', 'directory to write into (created if missing)')
    .addOption(new Option('--nodes <n>', `number of nodes (1-${MAX_NODES})`).argParser(intOption(1, MAX_NODES)).default(4))
    .option('--base-port <port>', 'first port: coordinator BASE, the k-th node on a host p2p BASE+2k-1 and HTTP BASE+2k (with --join: p2p BASE, HTTP BASE+1)', intOption(1024, 65535), DEFAULT_BASE_PORT)
    .option('--host <ipv4>', 'IPv4 address the nodes and the coordinator listen on and advertise', '127.0.0.1')
    .option('--node-hosts <ipv4,...>', 'one address per node, in order (nodes on separate machines); --nodes defaults to their count', hostList)
    .option('--coordinator-host <ipv4>', 'the coordinator\'s address: its http.host and every node\'s coordinator_url (default: --host)')
    .addOption(new Option('--app <app>', 'what the nodes run: the rewards pipeline, or plain client messages').choices(['rewards', 'messages']).default('rewards'))
    .addOption(new Option('--mixnodes <m>', 'simulated mixnodes (nodes and coordinator)').argParser(intOption(1, MAX_MIXNODES)).default(100))
    .addOption(new Option('--environment <name>', 'coordinator preset: epoch 2 s / 10 s / 3600 s').choices(['testing', 'development', 'production']).default('development'))
    .addOption(new Option('--epoch-seconds <s>', 'override the preset\'s epoch length').argParser(intOption(1, 86_400)))
    .addOption(new Option('--join <url>', 'write one validator\'s key, peers file and config for the existing network of this coordinator').conflicts(NETWORK_FLAGS))
    .option('--name <name>', 'with --join: the validator\'s name (default: the first free nodeK)')
    .option('--force', 'overwrite existing keys and configs (new identities; wipes the nodes\' data); refused while a process of DIR runs', false)
    .option('--json', 'print the result as JSON', false)
    .addHelpText('after', `
Writes DIR/peers.toml, DIR/coordinator/config.toml, the operator's key DIR/coordinator/admin.key
(mode 0600; its public key is membership.admin_public_key in the coordinator's config, and it signs
\`ephemera contract lock|unlock|ban|unban\`) and, per node, DIR/nodeK/config.toml and
DIR/nodeK/node.key (mode 0600); last, the marker DIR/.ephemera-cluster.json that \`cluster clear\`
requires before it deletes anything. The private keys are never printed.
Addresses: --host for everything (loopback by default), or for nodes on several machines
--node-hosts (node k listens on, and is listed in the peers file at, the k-th address; HTTP too) and
--coordinator-host. Ports are numbered per host: the j-th node on a host gets BASE+2j-1 (p2p) and
BASE+2j (HTTP), so nodes on separate hosts all get BASE+1 and BASE+2 (docs/DEPLOY.md).
Refuses to overwrite existing keys unless --force is given. --force is refused while any process of
DIR runs: what DIR/cluster.json records (supervisor, nodes, coordinator), and any process whose
--config names one of DIR's config files (e.g. a node started by hand).

With --join URL it asks that coordinator for its genesis committee and parameters and writes one
new validator in DIR/NAME/: node.key (mode 0600), peers.toml (the genesis committee: name, PeerId,
first address) and config.toml (the coordinator's URL and mixnodes; p2p on --base-port, HTTP on the
next port; by default the pair after the highest port of the members the coordinator knows).
--force replaces them (new identity, the node's data wiped), refused while a process runs with that
config. Then start the node and ask to join the committee (README "A living committee").

Examples:
  ephemera init --nodes 4 --out ./net && ephemera node run --config ./net/node1/config.toml
  ephemera init --out ./net --coordinator-host 10.0.0.1 --node-hosts 10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5
  ephemera init --join http://127.0.0.1:7000 --out ./net
  ephemera node run --config ./net/node5/config.toml
  ephemera validator join --config ./net/node5/config.toml`)
    .action(async (opts: InitCliOptions, cmd: Command) => {
      if (opts.join != null) {
        const basePort = cmd.getOptionValueSource('basePort') === 'default' ? undefined : opts.basePort
        await initJoin({ join: opts.join, out: opts.out, name: opts.name, basePort, host: opts.host, force: opts.force, json: opts.json })
        return
      }
      if (opts.name != null) throw new EphemeraError(ErrorCode.INVALID_ARGUMENT, '--name applies to --join only (init names its nodes node1..nodeN)')
      const nodes = opts.nodeHosts != null && cmd.getOptionValueSource('nodes') === 'default' ? opts.nodeHosts.length : opts.nodes
      // new identities and wiped data under running processes would leave them with neither
      if (opts.force) await assertClusterStopped(opts.out, 'refusing to replace its keys and wipe its data')
      const result = await initNetwork({
        nodes, out: opts.out, basePort: opts.basePort, host: opts.host, nodeHosts: opts.nodeHosts, coordinatorHost: opts.coordinatorHost, force: opts.force,
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
      println(`operator key: ${result.adminKeyFile} (mode 0600; signs ephemera contract lock|unlock|ban|unban --admin-key)`)
    })
}
