import type { EpochSummary } from '../../epochs/epoch-summary.js'
import type { MembershipViewJson } from '../../epochs/membership-requests.js'
import type { GetJson } from '../../epochs/published.js'
import type { RoundViewJson } from '../../epochs/requests.js'

/**
 * What the page reads from the coordinator that serves it (same origin, nothing else): the
 * answers' types, as far as the page uses them (README "HTTP API").
 */

/** GET /contract/epoch */
export interface EpochNowJson {
  epoch: number
  startMs: number
  endMs: number
  genesisMs: number
  epochMs: number
  environment: { name: string }
  committee: { membershipId: string, size: number }
  parameters: { aggregation: string, mixnodes: number, rewardsThreshold: number }
}

/** One entry of GET /contract/epochs. */
export type EpochSummaryJson = EpochSummary

export interface EpochListJson {
  currentEpoch: number
  epochs: EpochSummaryJson[]
}

/** GET /contract/health */
export interface ContractHealthJson {
  status: string
  epoch: number
  build?: { version: string, node: string }
}

export type { MembershipViewJson, RoundViewJson }

/** Everything one refresh reads. */
export interface Snapshot {
  at: number
  now: EpochNowJson
  epochs: EpochListJson
  rounds: RoundViewJson[]
  membership: MembershipViewJson
  health: ContractHealthJson
}

/** How many recent epochs the page lists and charts. */
export const RECENT_EPOCHS = 60

/** GET a path of this origin as JSON; an error answer throws with its message. */
export const getJson: GetJson = async <T>(url: string): Promise<T> => {
  const res = await fetch(url, { headers: { accept: 'application/json' } })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new Error(`GET ${url}: HTTP ${res.status}, not JSON`)
  }
  if (!res.ok) {
    const message = typeof body === 'object' && body != null && 'message' in body ? String(body.message) : text.slice(0, 200)
    throw new Error(`GET ${url}: HTTP ${res.status}: ${message}`)
  }
  return body as T
}

/** One refresh: the coordinator's epoch, recent epochs, open rounds, membership and health. */
export async function snapshot (): Promise<Snapshot> {
  const [now, epochs, rounds, membership, health] = await Promise.all([
    getJson<EpochNowJson>('/contract/epoch'),
    getJson<EpochListJson>(`/contract/epochs?limit=${RECENT_EPOCHS}`),
    getJson<{ rounds: RoundViewJson[] }>('/contract/rounds'),
    getJson<MembershipViewJson>('/contract/membership'),
    getJson<ContractHealthJson>('/contract/health')
  ])
  return { at: Date.now(), now, epochs, rounds: rounds.rounds, membership, health }
}
