import { defineConfig } from 'vitest/config'

/**
 * `npm run sim:scale`: the scale simulation's matrix (test/sim/scale.run.ts), which writes
 * docs/SIMULATION.md. Minutes of CPU, so not part of `npm test`; its fast checks are in
 * test/sim/epoch.sim.test.ts.
 */
export default defineConfig({
  test: {
    setupFiles: ['./src/polyfills.ts'],
    include: ['test/sim/scale.run.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 60 * 60_000
  }
})
