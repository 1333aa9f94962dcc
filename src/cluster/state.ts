import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as z from 'zod'
import { EphemeraError, ErrorCode } from '../util/errors.js'
import { isErrnoException, writeFileAtomic } from '../util/fs.js'

export const CLUSTER_FILE = 'cluster.json'

const nodeStateSchema = z.object({
  name: z.string(),
  /** null for the coordinator */
  peerId: z.string().nullable(),
  pid: z.number().int().nullable(),
  httpUrl: z.string(),
  multiaddr: z.string().nullable(),
  configFile: z.string(),
  logFile: z.string(),
  startedAt: z.string().nullable()
})

const clusterStateSchema = z.object({
  version: z.literal(1),
  dir: z.string(),
  status: z.enum(['running', 'stopped']),
  mode: z.enum(['foreground', 'detached']),
  supervisorPid: z.number().int().nullable(),
  updatedAt: z.string(),
  /** The epoch coordinator, when the nodes run the rewards application. */
  coordinator: nodeStateSchema.nullable().default(null),
  nodes: z.array(nodeStateSchema)
})

/** DIR/cluster.json: what `cluster up` started, for `cluster down`, `status` and scripts. */
export type ClusterState = z.infer<typeof clusterStateSchema>
export type ClusterNodeState = z.infer<typeof nodeStateSchema>

export async function readClusterState (dir: string): Promise<ClusterState | undefined> {
  const path = join(dir, CLUSTER_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (isErrnoException(err) && err.code === 'ENOENT') return undefined
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new EphemeraError(ErrorCode.CLUSTER, `${path} is not valid JSON; delete it if no cluster is running`)
  }
  const result = clusterStateSchema.safeParse(parsed)
  if (!result.success) throw new EphemeraError(ErrorCode.CLUSTER, `${path} is not a cluster state file this version understands; delete it if no cluster is running`)
  return result.data
}

export async function writeClusterState (dir: string, state: Omit<ClusterState, 'updatedAt' | 'version'>): Promise<void> {
  const full: ClusterState = { version: 1, ...state, updatedAt: new Date().toISOString() }
  await writeFileAtomic(join(dir, CLUSTER_FILE), JSON.stringify(full, null, 2) + '\n')
}
