import type { ChildProcess } from 'node:child_process'
import { tryGetJson } from './http.js'
import type { MeshProgress } from './mesh-progress.js'
import type { ProcessPlan } from './plan.js'
import { processAlive } from './processes.js'

/**
 * What the cluster's processes answer while `cluster up` watches them. An answer counts only when
 * it comes from the process this cluster started (or adopted): its pid, and for a node the PeerId
 * of the peers file. Anything else on its address (another cluster on the same ports) is foreign.
 */

/** A process `cluster up` started (with its child handle) or adopted (pid only). */
export interface Running {
  plan: ProcessPlan
  pid: number
  child?: ChildProcess
  exit?: string
}

export function alive (r: Running): boolean {
  return r.exit == null && processAlive(r.pid, r.plan.configFile)
}

interface NodeHealthAnswer {
  pid?: number
  peerId?: string
  connectedMembers?: number
}

/** How one process answers: ok (ready), text for the progress line, and why the answer is foreign, if it is. */
export interface Answer {
  text: string
  ok: boolean
  foreign?: string
  /** A node of its own that answered: the members it is connected to. */
  connected?: number
}

/** How long `cluster up` waits for one health answer while the mesh forms (processes starting on shared cores answer slowly). */
export const HEALTH_TIMEOUT_MS = 3_000

function foreignAnswer (r: Running, pid: number | undefined, peerId: string | undefined): string {
  const got = `pid ${pid ?? 'unknown'}${r.plan.peerId != null && peerId !== r.plan.peerId ? `, PeerId ${peerId ?? 'unknown'}` : ''}`
  const want = `pid ${r.pid}${r.plan.peerId != null && peerId !== r.plan.peerId ? `, PeerId ${r.plan.peerId}` : ''}`
  return `${r.plan.httpUrl} answers as ${got}, not as the ${r.plan.name} of this cluster (${want})`
}

/** A node: connected members out of `n − 1`, once its own process answers. */
export async function nodeAnswer (r: Running, n: number, timeoutMs = HEALTH_TIMEOUT_MS): Promise<Answer> {
  const health = await tryGetJson<NodeHealthAnswer>(`${r.plan.httpUrl}/ephemera/node/health`, timeoutMs)
  if (health == null) return { text: `${r.plan.name} starting`, ok: false }
  if (health.pid !== r.pid || health.peerId !== r.plan.peerId) {
    return { text: `${r.plan.name} foreign (pid ${health.pid ?? '?'})`, ok: false, foreign: foreignAnswer(r, health.pid, health.peerId) }
  }
  const connected = health.connectedMembers ?? 0
  return { text: `${r.plan.name} ${connected}/${n - 1}`, ok: connected === n - 1, connected }
}

/** The coordinator: up once its own process answers. */
export async function coordinatorAnswer (r: Running, timeoutMs = HEALTH_TIMEOUT_MS): Promise<Answer> {
  const health = await tryGetJson<{ pid?: number }>(`${r.plan.httpUrl}/contract/health`, timeoutMs)
  if (health == null) return { text: 'coordinator starting', ok: false }
  if (health.pid !== r.pid) return { text: `coordinator foreign (pid ${health.pid ?? '?'})`, ok: false, foreign: foreignAnswer(r, health.pid, undefined) }
  return { text: 'coordinator up', ok: true }
}

/**
 * Asks every node once (in parallel) and records what each says into `progress`: its connected
 * members, no answer, or down. Returns the foreign answers (another process on a node's address).
 */
export async function pollMesh (nodes: Running[], progress: MeshProgress, now: () => number): Promise<string[]> {
  const n = nodes.length
  const answers = await Promise.all(nodes.map(async (r): Promise<Answer | undefined> => alive(r) ? await nodeAnswer(r, n) : undefined))
  const at = now()
  const foreign: string[] = []
  nodes.forEach((r, i) => {
    const answer = answers[i]
    if (answer == null) progress.record(r.plan.name, { kind: 'down', text: `down${r.exit != null ? ` (${r.exit})` : ''}` }, at)
    else if (answer.foreign != null) {
      foreign.push(answer.foreign)
      progress.record(r.plan.name, { kind: 'silent' }, at)
    } else if (answer.connected == null) progress.record(r.plan.name, { kind: 'silent' }, at)
    else progress.record(r.plan.name, { kind: 'answer', connected: answer.connected }, at)
  })
  return foreign
}
