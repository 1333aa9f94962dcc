// Types of floor-model.mjs, for the TypeScript tests (test/unit/bench).
export interface Hop { step: string, hops: number }
export declare const CONSENSUS_HOPS: readonly Hop[]
export declare const STANDALONE_HOPS: readonly Hop[]
export declare function hopCount (hops: readonly Hop[]): number
export interface Work {
  node: Record<string, number>
  once?: Record<string, number>
  coordinator: Record<string, number>
  sync: Record<string, number>
}
export interface Floor {
  floorMs: number
  perNodeMs: number
  onceMs: number
  coordinatorMs: number
  cpuMs: number
  parallelism: number
  spreadMs: number
  syncMs: number
  hops: number
  oneWayMs: number
  hopsMs: number
}
export declare function floorModel (p: { mode: 'consensus' | 'standalone', nodes: number, cores: number, oneWayMs: number, work: Work }): Floor
