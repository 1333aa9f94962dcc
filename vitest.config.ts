import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    setupFiles: ['./src/polyfills.ts'],
    include: ['test/**/*.test.ts'],
    // the perturbation suite's CI subset runs alone afterwards (npm run e2e:ci)
    exclude: [...configDefaults.exclude, 'test/e2e/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // integration tests start real processes on loopback; keep them from competing for the 2 cores
    fileParallelism: true,
    maxWorkers: 2
  }
})
