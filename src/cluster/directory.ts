import { readFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { loadPeersFile, type Member } from '../config/index.js'
import { CLUSTER_MARKER_FILE, CLUSTER_MARKER_KIND, NODE_CONFIG_FILE, PEERS_FILE, type ClusterMarker } from '../config/generate.js'
import { EphemeraError, ErrorCode, errorMessage } from '../util/errors.js'
import { isErrnoException, pathExists } from '../util/fs.js'

/**
 * Whether a directory is a cluster made by `ephemera init` (or `cluster up`), before anything
 * deletes in it: it has the marker init writes, or (a cluster made before the marker existed) a
 * parseable peers.toml whose every member has DIR/<name>/config.toml.
 */

export interface ClusterDirectory {
  dir: string
  /** null for a cluster made before the marker existed */
  marker: ClusterMarker | null
  /** The members of peers.toml; empty when it is missing or does not parse (marker only). */
  members: Member[]
}

/** `child` lies strictly inside `parent` (both absolute or both resolved against the cwd). */
export function isInside (parent: string, child: string): boolean {
  const rel = relative(resolve(parent), resolve(child))
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)
}

/** `a` is `b` or contains it. */
export function containsOrIs (a: string, b: string): boolean {
  return resolve(a) === resolve(b) || isInside(a, b)
}

async function readMarker (dir: string): Promise<ClusterMarker | null> {
  let text: string
  try {
    text = await readFile(join(dir, CLUSTER_MARKER_FILE), 'utf8')
  } catch (err) {
    if (isErrnoException(err) && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return null
    throw err
  }
  try {
    const parsed = JSON.parse(text) as Partial<ClusterMarker> | null
    if (parsed?.kind !== CLUSTER_MARKER_KIND) return null
    return {
      kind: CLUSTER_MARKER_KIND,
      version: 1,
      createdAt: typeof parsed.createdAt === 'string' ? parsed.createdAt : '',
      app: parsed.app === 'messages' ? 'messages' : 'rewards',
      nodes: Array.isArray(parsed.nodes) ? parsed.nodes.filter((n): n is string => typeof n === 'string') : []
    }
  } catch {
    return null
  }
}

/**
 * Reads DIR as a cluster directory, or throws ERR_CLUSTER with one line saying why it is not one
 * (`refusal` ends that line, e.g. "refusing to delete anything").
 */
export async function readClusterDirectory (dirOption: string, refusal: string): Promise<ClusterDirectory> {
  const dir = resolve(dirOption)
  if (!await pathExists(dir)) throw new EphemeraError(ErrorCode.CLUSTER, `${dir} does not exist; nothing to do`)
  const notACluster = (why: string): EphemeraError => new EphemeraError(ErrorCode.CLUSTER,
    `${dir} is not an ephemera cluster directory (${why}); ${refusal}`, { dir })
  const marker = await readMarker(dir)
  const peersFile = join(dir, PEERS_FILE)
  let members: Member[] = []
  let peersError: string | undefined
  if (await pathExists(peersFile)) {
    try {
      members = await loadPeersFile(peersFile)
    } catch (err) {
      peersError = errorMessage(err)
    }
  }
  if (marker != null) return { dir, marker, members }
  if (peersError != null) throw notACluster(`no ${CLUSTER_MARKER_FILE} marker written by \`ephemera init\`, and ${PEERS_FILE} does not parse: ${peersError}`)
  if (members.length === 0) throw notACluster(`no ${PEERS_FILE} and no ${CLUSTER_MARKER_FILE} marker written by \`ephemera init\``)
  for (const member of members) {
    const configFile = join(dir, member.name, NODE_CONFIG_FILE)
    if (!isInside(dir, configFile) || !await pathExists(configFile)) {
      throw notACluster(`no ${CLUSTER_MARKER_FILE} marker written by \`ephemera init\`, and member ${member.name} of ${PEERS_FILE} has no ${member.name}/${NODE_CONFIG_FILE}`)
    }
  }
  return { dir, marker: null, members }
}
