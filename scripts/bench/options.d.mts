// Types of options.mjs, for the TypeScript tests (test/unit/bench).
export interface Row { mode: 'consensus' | 'standalone', nodes: number, epochSeconds: number, mixnodes: number, epochs: number }
export declare const USAGE: string
export declare const DEFAULTS: { epochs: number, mixnodes: number, out: string, docs: string }
export declare const DEFAULT_ROWS: string
export declare function parseRow (spec: string, defaults: { mixnodes: number, epochs: number }): Row
export declare function withBaselines (rows: Row[], epochs: number): Row[]
export declare function parseOptions (argv: string[]): { help: boolean, rows: Row[], isDefaultPlan: boolean, out: string, docs: string, readme: boolean }
export declare function meshTimeoutSeconds (nodes: number): number
export declare function describeRow (r: Row): string
