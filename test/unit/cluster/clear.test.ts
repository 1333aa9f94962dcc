import { spawn, type ChildProcess } from 'node:child_process'
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { clusterClear, readClusterDirectory } from '../../../src/cluster/index.js'
import { CLUSTER_MARKER_FILE, initNetwork } from '../../../src/config/generate.js'
import { EphemeraError, ErrorCode } from '../../../src/util/errors.js'
import { tempDir } from '../tmp.js'

/**
 * `cluster clear` deletes only inside a cluster directory made by `init`, only the paths that
 * cluster owns, and never while one of its processes runs.
 */

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

async function clearError (dir: string, all: boolean): Promise<EphemeraError> {
  try {
    await clusterClear(dir, all, () => {})
  } catch (err) {
    expect(err).toBeInstanceOf(EphemeraError)
    return err as EphemeraError
  }
  throw new Error(`expected clusterClear(${dir}, ${String(all)}) to refuse`)
}

/** A folder that is not a cluster, with what the old `clear` deleted in any folder. */
async function ordinaryFolder (): Promise<string> {
  const dir = await tempDir()
  await mkdir(join(dir, 'logs'), { recursive: true })
  await writeFile(join(dir, 'logs', 'precious.log'), 'keep me')
  await mkdir(join(dir, 'coordinator', 'data'), { recursive: true })
  await writeFile(join(dir, 'coordinator', 'data', 'thesis.tex'), 'keep me too')
  await writeFile(join(dir, 'cluster.json'), '{}')
  return dir
}

/** A 2-node cluster made by init, with data, logs and a cluster.json as a run leaves them. */
async function initialisedCluster (): Promise<string> {
  const dir = join(await tempDir(), 'net')
  await initNetwork({ nodes: 2, out: dir, basePort: 41000 })
  for (const name of ['node1', 'node2', 'coordinator']) {
    await mkdir(join(dir, name, 'data', 'db'), { recursive: true })
    await writeFile(join(dir, name, 'data', 'db', 'CURRENT'), 'x')
  }
  await mkdir(join(dir, 'logs'), { recursive: true })
  await writeFile(join(dir, 'logs', 'node1.log'), 'log')
  return dir
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

describe('cluster clear', () => {
  it.each([false, true])('refuses a folder that is not a cluster and deletes nothing (--all: %s)', async (all) => {
    const dir = await ordinaryFolder()
    const err = await clearError(dir, all)
    expect(err.code).toBe(ErrorCode.CLUSTER)
    expect(err.message).toBe(`${dir} is not an ephemera cluster directory (no peers.toml and no ${CLUSTER_MARKER_FILE} marker written by \`ephemera init\`); refusing to delete anything`)
    expect(await readFile(join(dir, 'logs', 'precious.log'), 'utf8')).toBe('keep me')
    expect(await readFile(join(dir, 'coordinator', 'data', 'thesis.tex'), 'utf8')).toBe('keep me too')
    expect(await exists(join(dir, 'cluster.json'))).toBe(true)
  })

  it('refuses a peers.toml whose members have no configs (not made by init)', async () => {
    const dir = await initialisedCluster()
    await rm(join(dir, CLUSTER_MARKER_FILE))
    await rm(join(dir, 'node2', 'config.toml'))
    const err = await clearError(dir, true)
    expect(err.message).toMatch(/is not an ephemera cluster directory \(.*member node2 of peers\.toml has no node2\/config\.toml\); refusing to delete anything$/)
    expect(await exists(join(dir, 'node1', 'node.key'))).toBe(true)
    expect(await exists(join(dir, 'logs', 'node1.log'))).toBe(true)
  })

  it('refuses a directory that does not exist', async () => {
    const dir = join(await tempDir(), 'nothing-here')
    expect((await clearError(dir, false)).message).toMatch(/nothing-here does not exist/)
  })

  it('clears the data, logs and cluster.json of a cluster made by init, keeping keys and configs', async () => {
    const dir = await initialisedCluster()
    await writeFile(join(dir, 'cluster.json'), '{}')
    const lines: string[] = []
    expect(await clusterClear(dir, false, (l) => lines.push(l))).toBe(0)
    expect(lines).toEqual([`cleared data and logs of 2 nodes in ${dir} (keys and configs kept)`])
    for (const name of ['node1', 'node2', 'coordinator']) expect(await exists(join(dir, name, 'data')), `${name}/data`).toBe(false)
    expect(await exists(join(dir, 'logs'))).toBe(false)
    expect(await exists(join(dir, 'cluster.json'))).toBe(false)
    for (const file of ['peers.toml', CLUSTER_MARKER_FILE, 'node1/node.key', 'node1/config.toml', 'coordinator/config.toml']) expect(await exists(join(dir, file)), file).toBe(true)
  })

  it('accepts a cluster made before the marker existed (peers.toml and every member\'s config)', async () => {
    const dir = await initialisedCluster()
    await rm(join(dir, CLUSTER_MARKER_FILE))
    expect((await readClusterDirectory(dir, 'x')).members.map((m) => m.name)).toEqual(['node1', 'node2'])
    expect(await clusterClear(dir, false, () => {})).toBe(0)
    expect(await exists(join(dir, 'node1', 'data'))).toBe(false)
    expect(await exists(join(dir, 'node1', 'node.key'))).toBe(true)
  })

  it('--all removes what init and cluster up wrote, and the directory once nothing else is left', async () => {
    const dir = await initialisedCluster()
    expect(await clusterClear(dir, true, () => {})).toBe(0)
    expect(await exists(dir)).toBe(false)
  })

  it('--all keeps files init did not write, and the directory holding them', async () => {
    const dir = await initialisedCluster()
    await writeFile(join(dir, 'notes.txt'), 'mine')
    const lines: string[] = []
    expect(await clusterClear(dir, true, (l) => lines.push(l))).toBe(0)
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('mine')
    for (const entry of ['peers.toml', CLUSTER_MARKER_FILE, 'node1', 'node2', 'coordinator', 'logs']) expect(await exists(join(dir, entry)), entry).toBe(false)
    expect(lines[0]).toMatch(/kept the directory, which holds files `init` did not write: notes\.txt$/)
  })

  it('never deletes a data_dir outside DIR, DIR itself, or one that holds keys or configs', async () => {
    const dir = await initialisedCluster()
    const outside = join(await tempDir(), 'elsewhere')
    await mkdir(outside)
    await writeFile(join(outside, 'file'), 'x')
    const setDataDir = async (name: string, value: string): Promise<void> => {
      const file = join(dir, name, 'config.toml')
      await writeFile(file, (await readFile(file, 'utf8')).replace('data_dir = "data"', `data_dir = ${JSON.stringify(value)}`))
    }
    await setDataDir('node1', outside)
    await setDataDir('node2', '..') // DIR itself
    await setDataDir('coordinator', '.') // holds the coordinator's config
    const lines: string[] = []
    expect(await clusterClear(dir, false, (l) => lines.push(l))).toBe(0)
    expect(await readFile(join(outside, 'file'), 'utf8')).toBe('x')
    for (const file of ['peers.toml', 'node2/node.key', 'coordinator/config.toml']) expect(await exists(join(dir, file)), file).toBe(true)
    expect(lines).toContain(`kept node1's data_dir ${outside}: it is not inside ${dir}`)
    expect(lines).toContain(`kept node2's data_dir ${dir}: it is the cluster directory or one of its parents`)
    expect(lines).toContain(`kept coordinator's data_dir ${join(dir, 'coordinator')}: it holds keys, configs or the peers file`)

    // --all deletes the cluster's own folders, but still nothing outside DIR
    expect(await clusterClear(dir, true, () => {})).toBe(0)
    expect(await readFile(join(outside, 'file'), 'utf8')).toBe('x')
    expect(await exists(dir)).toBe(false)
  })

  it('refuses while a process runs with one of its config files (started by hand), naming its pid', async () => {
    const dir = await initialisedCluster()
    // stands in for `ephemera node run --config DIR/node1/config.toml`; a relative path, as typed in DIR
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', 'node', 'run', '--config', 'node1/config.toml'], { cwd: dir, stdio: 'ignore' })
    children.push(child)
    const pid = child.pid as number
    const err = await clearError(dir, true)
    expect(err.message).toMatch(new RegExp(`^the cluster in ${dir} is running \\(pids ${pid} \\(.*--config node1/config\\.toml\\)\\); stop it first with \`kill ${pid}\``))
    expect(err.message).toMatch(/refusing to delete anything$/)
    expect(await exists(join(dir, 'node1', 'data', 'db', 'CURRENT'))).toBe(true)

    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(await clusterClear(dir, false, () => {})).toBe(0)
  })

  it('refuses while a process recorded in cluster.json runs', async () => {
    const dir = await initialisedCluster()
    const configFile = join(dir, 'node2', 'config.toml')
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', configFile], { stdio: 'ignore' })
    children.push(child)
    const node = { name: 'node2', peerId: 'p', pid: child.pid, httpUrl: 'http://127.0.0.1:1', multiaddr: null, configFile, logFile: join(dir, 'logs', 'node2.log'), startedAt: null }
    await writeFile(join(dir, 'cluster.json'), JSON.stringify({ version: 1, dir, status: 'running', mode: 'detached', supervisorPid: null, updatedAt: new Date().toISOString(), coordinator: null, nodes: [node] }))
    const err = await clearError(dir, false)
    expect(err.message).toBe(`the cluster in ${dir} is running (pids ${child.pid} node2); stop it first with \`ephemera cluster down --dir ${dir}\`; refusing to delete anything`)
    expect(await exists(join(dir, 'logs', 'node1.log'))).toBe(true)
  })
})
