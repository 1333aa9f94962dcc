// Types of judge.mjs, for the TypeScript tests (test/unit/bench).
export interface EpochSummary { epoch: number, status: string, endMs: number, latencyMs?: number, reason?: string }
export type VerdictKind = 'committed' | 'failed' | 'undecided' | 'waiting' | 'unjudged'
export interface Verdict { epoch: number, verdict: VerdictKind, latencyMs?: number, reason?: string }
export declare function measuredEpochs (currentEpoch: number, count: number, warmup?: number): { first: number, last: number }
export declare function judgeEpochs (p: { summaries: EpochSummary[], first: number, last: number, now: number, commitWindowMs: number }): { verdicts: Verdict[], done: boolean }
export declare function closeVerdicts (verdicts: Verdict[], reason: string): Verdict[]
export declare function percentile (values: number[], p: number): number
export declare function epochStats (verdicts: Verdict[]): {
  epochs: number
  committed: number
  latencyMs: { p50: number, p95: number, max: number } | null
  notCommitted: Array<{ epoch: number, verdict: VerdictKind, reason?: string }>
}
