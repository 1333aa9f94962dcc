import { Command, Option } from 'commander'
import { clusterAdd, clusterClear, clusterDown, clusterStatus, clusterUp, DEFAULT_CLUSTER_DIR } from '../../cluster/index.js'
import { MAX_NODES } from '../../config/generate.js'
import { MAX_MIXNODES } from '../../epochs/report.js'
import { intOption, printJson, println, table } from '../output.js'

export function clusterCommand (): Command {
  const cluster = new Command('cluster').description('run a local network of nodes as child processes')
  cluster.command('up')
    .description('initialise DIR if needed, start every node, wait for the full mesh, then show live status')
    .option('--nodes <n>', `number of nodes (default 4 for a new DIR; must match an existing one)`, intOption(1, MAX_NODES))
    .option('--dir <dir>', 'cluster directory (configs, keys, data, logs, cluster.json)', DEFAULT_CLUSTER_DIR)
    .option('--base-port <port>', 'first port when initialising DIR', intOption(1024, 65535))
    .addOption(new Option('--app <app>', 'when initialising DIR: rewards (with a coordinator) or plain client messages').choices(['rewards', 'messages']))
    .addOption(new Option('--environment <name>', 'when initialising DIR: coordinator preset (epoch 2 s / 10 s / 3600 s)').choices(['testing', 'development', 'production']))
    .option('--epoch-seconds <s>', 'epoch length (coordinator; every timeout scales along)', intOption(1, 86_400))
    .option('--mixnodes <m>', 'simulated mixnodes (coordinator and nodes)', intOption(1, MAX_MIXNODES))
    .option('--detach', 'return once the mesh has formed and leave the nodes running (stop with `cluster down`)', false)
    .option('--timeout <seconds>', 'deadline for the mesh to form (default: 60, or 6 per node beyond 10 nodes)', intOption(1, 3600))
    .addHelpText('after', `
A rewards network (the default) runs a coordinator too, and prints one line per epoch: reports
seen, the certified block, the winner and the latency from the epoch's end to the commit.
Without --detach, Ctrl-C stops every process (a second Ctrl-C kills them at once); if this process
dies, its children stop too. With --detach on a DIR whose processes partly run, only the missing
ones are started. Before starting anything it refuses when a port it needs is taken, a process of
DIR runs that it did not start, or the coordinator's data was made with another epoch length.
It reports the mesh only from answers of its own processes (their pid and PeerId); a node that
answered and then misses a poll while busy keeps its latest answer (shown as slow) for 10 s.
Beyond 8 nodes the progress line counts nodes and links and names the nodes behind.
Logs: DIR/logs/<name>.log; process table: DIR/cluster.json.`)
    .action(async (opts: { nodes?: number, dir: string, basePort?: number, app?: 'rewards' | 'messages', environment?: 'testing' | 'development' | 'production', epochSeconds?: number, mixnodes?: number, detach: boolean, timeout?: number }) => {
      const stop = new AbortController()
      const force = new AbortController()
      const onSignal = (): void => {
        if (stop.signal.aborted) force.abort()
        else stop.abort()
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        process.exitCode = await clusterUp({
          dir: opts.dir,
          nodes: opts.nodes,
          basePort: opts.basePort,
          app: opts.app,
          environment: opts.environment,
          epochSeconds: opts.epochSeconds,
          mixnodes: opts.mixnodes,
          detach: opts.detach,
          meshTimeoutMs: opts.timeout == null ? undefined : opts.timeout * 1000,
          print: println,
          signal: stop.signal,
          forceSignal: force.signal
        })
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
  cluster.command('add')
    .description('add a validator to a running detached rewards cluster: it joins through the coordinator\'s queue')
    .option('--dir <dir>', 'cluster directory', DEFAULT_CLUSTER_DIR)
    .option('--name <name>', 'the new node\'s name (default: the first free nodeK); a node added before under this name is started again')
    .option('--base-port <port>', 'p2p port of a new node (HTTP on the next); default: after the highest port the coordinator knows', intOption(1024, 65534))
    .addHelpText('after', `
Makes the node's key and config as \`ephemera init --join\` does (DIR/<name>/, ports after the highest
the coordinator knows), starts it in the background, and records it in DIR/cluster.json, so
\`cluster down\` stops it and \`cluster status\` lists it. The node asks the coordinator to join
(rewards.auto_join); once admitted it takes part from the epoch its admission names (two epochs
after the commit that decided it). \`cluster up\` starts the peers file's members only: after a
\`cluster down\`, start an added node again with \`cluster add --name <name>\`.`)
    .action(async (opts: { dir: string, name?: string, basePort?: number }) => {
      process.exitCode = await clusterAdd({ dir: opts.dir, name: opts.name, basePort: opts.basePort, print: println })
    })
  cluster.command('down')
    .description('stop every process of a cluster started with `cluster up`')
    .option('--dir <dir>', 'cluster directory', DEFAULT_CLUSTER_DIR)
    .action(async (opts: { dir: string }) => {
      process.exitCode = await clusterDown(opts.dir, println)
    })
  cluster.command('clear')
    .description('delete the nodes\' data, logs and cluster.json (keys and configs stay); refuses while running')
    .option('--dir <dir>', 'cluster directory', DEFAULT_CLUSTER_DIR)
    .option('--all', 'delete everything init and cluster up wrote, keys and configs included (and DIR, once empty)', false)
    .addHelpText('after', `
Acts only on a cluster directory: one with the .ephemera-cluster.json marker \`ephemera init\` writes,
or (made before the marker existed) a peers.toml whose every member has DIR/<name>/config.toml.
Any other directory is refused, and so is a cluster any process of which runs (cluster.json's
processes, or any process whose --config names one of DIR's config files). A data_dir outside
DIR, or one holding keys or configs, is never deleted.`)
    .action(async (opts: { dir: string, all: boolean }) => {
      process.exitCode = await clusterClear(opts.dir, opts.all, println)
    })
  cluster.command('status')
    .description('show whether each node runs and how many members it is connected to')
    .option('--dir <dir>', 'cluster directory', DEFAULT_CLUSTER_DIR)
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: { dir: string, json: boolean }) => {
      const status = await clusterStatus(opts.dir)
      if (opts.json) {
        printJson(status)
        return
      }
      println(`cluster ${status.dir}: ${status.status}`)
      println(table([['NAME', 'PID', 'HTTP', 'CONNECTED', 'EPOCH'], ...status.nodes.map((n) => [
        n.name, n.pid == null ? '-' : String(n.pid), n.httpUrl,
        !n.running ? 'down' : n.role === 'coordinator' ? '-' : n.connected == null ? 'no answer' : `${n.connected}/${n.members - 1}`,
        n.epoch == null ? '-' : n.role === 'coordinator' ? `${n.epoch} (current)` : `${n.epoch} (last committed)`
      ])]))
    })
  return cluster
}
