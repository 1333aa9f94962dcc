import { defineConfig } from 'vitest/config'

/**
 * `npm run e2e`: the whole perturbation suite (test/e2e/*.e2e.ts), every scenario for N = 4 and
 * N = 7, one scenario at a time (real clusters of up to 8 processes share this machine's cores).
 * `npm run e2e:ci` (E2E_SUITE=ci, the last step of `npm test`): the CI subset in
 * test/e2e/ci.test.ts, alone, after every other test has finished.
 */
export default defineConfig({
  test: {
    setupFiles: ['./src/polyfills.ts'],
    include: process.env.E2E_SUITE === 'ci' ? ['test/e2e/ci.test.ts'] : ['test/e2e/**/*.e2e.ts'],
    // the CI subset writes its own table (test/e2e/ci.test.ts)
    globalSetup: process.env.E2E_SUITE === 'ci' ? [] : ['./test/e2e/harness/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000
  }
})
