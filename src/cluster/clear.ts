import { readdir, rm, rmdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadContractConfig, loadNodeConfig } from '../config/index.js'
import { CLUSTER_MARKER_FILE, COORDINATOR_DIR, NODE_CONFIG_FILE, NODE_KEY_FILE, PEERS_FILE } from '../config/generate.js'
import { containsOrIs, isInside, readClusterDirectory } from './directory.js'
import { assertClusterStopped } from './running.js'
import { CLUSTER_FILE } from './state.js'

const REFUSAL = 'refusing to delete anything'

/** What `cluster clear` may delete in DIR, and what it keeps although a config names it. */
interface ClearPlan {
  members: string[]
  /** Data directories inside DIR that hold no key, config or peers file. */
  dataDirs: string[]
  /** One note per data directory left alone. */
  kept: string[]
}

/**
 * The data directories the configs of DIR name. Only paths strictly inside DIR that contain none
 * of the cluster's keys, configs or peers file are deleted: a data_dir set to DIR itself, to one
 * of its parents or anywhere outside it (by the file or EPHEMERA_DATA_DIR) is left alone.
 */
async function planClear (dir: string, members: string[]): Promise<ClearPlan> {
  const protectedFiles = [join(dir, PEERS_FILE), join(dir, CLUSTER_MARKER_FILE), join(dir, COORDINATOR_DIR, NODE_CONFIG_FILE)]
  const candidates: Array<{ who: string, path: string }> = []
  for (const name of members) {
    const configFile = join(dir, name, NODE_CONFIG_FILE)
    protectedFiles.push(configFile, join(dir, name, NODE_KEY_FILE))
    const config = await loadNodeConfig(configFile).catch(() => undefined)
    if (config == null) continue
    protectedFiles.push(config.key_file, config.peers_file)
    candidates.push({ who: name, path: config.data_dir })
  }
  const coordinator = await loadContractConfig(join(dir, COORDINATOR_DIR, NODE_CONFIG_FILE)).catch(() => undefined)
  if (coordinator != null) protectedFiles.push(coordinator.peers_file)
  candidates.push({ who: 'coordinator', path: coordinator?.data_dir ?? join(dir, COORDINATOR_DIR, 'data') })

  const dataDirs: string[] = []
  const kept: string[] = []
  for (const { who, path } of candidates) {
    const resolved = resolve(path)
    if (containsOrIs(resolved, dir)) {
      kept.push(`kept ${who}'s data_dir ${resolved}: it is the cluster directory or one of its parents`)
    } else if (!isInside(dir, resolved)) {
      kept.push(`kept ${who}'s data_dir ${resolved}: it is not inside ${dir}`)
    } else if (protectedFiles.some((file) => containsOrIs(resolved, file))) {
      kept.push(`kept ${who}'s data_dir ${resolved}: it holds keys, configs or the peers file`)
    } else if (!dataDirs.includes(resolved)) {
      dataDirs.push(resolved)
    }
  }
  return { members, dataDirs, kept }
}

/**
 * `ephemera cluster clear`: deletes the nodes' and the coordinator's data directories, the logs
 * and cluster.json, keeping keys and configs; with `all`, everything `init` and `cluster up`
 * wrote, and DIR itself when nothing else is left in it. Refuses a directory that is not a cluster
 * made by `init` (see readClusterDirectory), and a cluster any process of which runs.
 */
export async function clusterClear (dirOption: string, all: boolean, print: (line: string) => void): Promise<number> {
  const cluster = await readClusterDirectory(dirOption, REFUSAL)
  const dir = cluster.dir
  await assertClusterStopped(dirOption, REFUSAL)
  const names = [...new Set([...cluster.members.map((m) => m.name), ...(cluster.marker?.nodes ?? [])])].filter((name) => isInside(dir, join(dir, name)))
  const plan = await planClear(dir, names)

  for (const path of plan.dataDirs) await rm(path, { recursive: true, force: true })
  await rm(join(dir, 'logs'), { recursive: true, force: true })
  await rm(join(dir, CLUSTER_FILE), { force: true })
  if (!all) {
    print(`cleared data and logs of ${names.length} node${names.length === 1 ? '' : 's'} in ${dir} (keys and configs kept)`)
    for (const note of plan.kept) print(note)
    return 0
  }

  for (const name of [...names, COORDINATOR_DIR]) await rm(join(dir, name), { recursive: true, force: true })
  await rm(join(dir, PEERS_FILE), { force: true })
  // last: until the marker goes, a failed run can be repeated
  await rm(join(dir, CLUSTER_MARKER_FILE), { force: true })
  const left = await readdir(dir)
  if (left.length === 0) {
    await rmdir(dir)
    print(`removed ${dir}`)
  } else {
    print(`removed the cluster in ${dir} (keys, configs, data, logs); kept the directory, which holds files \`init\` did not write: ${left.slice(0, 5).join(', ')}${left.length > 5 ? ', ...' : ''}`)
  }
  for (const note of plan.kept) print(note)
  return 0
}
