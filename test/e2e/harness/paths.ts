import { fileURLToPath } from 'node:url'

/**
 * Where the harness finds the CLI and writes results. `E2E_CLI` points the suite at another build
 * (e.g. a snapshot of the product), otherwise it runs this checkout's `dist/` (`npm run build`).
 */
export const CLI = process.env.E2E_CLI ?? fileURLToPath(new URL('../../../dist/bin/ephemera.js', import.meta.url))
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))
