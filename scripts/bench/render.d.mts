// Types of render.mjs, for the TypeScript tests (test/unit/bench). A result is a row of
// bench-results.json: the row, what was measured and its floor (loosely typed: the tests build
// partial ones).
export type Result = Record<string, any>
export declare const README_START: string
export declare const README_END: string
export declare function ms (x: number | null | undefined): string
export declare function shortReason (reason: string): string
export declare function rowNote (r: Result): string
export declare function resultsTable (results: Result[]): string
export declare function phasesTable (results: Result[]): string
export declare function floorTables (results: Result[]): { parts: string, steps: string }
export declare function hopsList (): string
export declare function benchmarkMarkdown (p: { meta: Record<string, any>, loopback: Record<string, any>, results: Result[] }): string
export declare function plotSeries (results: Result[]): Array<{ label: string, style: 'consensus' | 'floor' | 'standalone', points: Array<{ x: number, y: number }>, missing: number[] }>
export declare function latencySvg (results: Result[], title?: string): string
export declare function replaceBetween (text: string, start: string, end: string, replacement: string): string
