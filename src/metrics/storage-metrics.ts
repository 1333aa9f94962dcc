import { Counter, Histogram, type Registry } from 'prom-client'
import type { StorageObserver } from '../storage/index.js'

/**
 * Storage metrics (`<prefix>_storage_write_seconds{sync}`, `<prefix>_storage_errors_total{operation}`)
 * in `registry`, and the observer that feeds them, for Database.open (src/storage/database.ts).
 */
export function storageMetrics (registry: Registry, prefix: string): StorageObserver {
  const latency = new Histogram({
    name: `${prefix}_storage_write_seconds`,
    help: 'Time of each LevelDB write (put, delete or atomic batch), not counting the wait behind earlier writes; sync="true": with fsync',
    labelNames: ['sync'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry]
  })
  const errors = new Counter({
    name: `${prefix}_storage_errors_total`,
    help: 'Storage reads and writes that failed (LevelDB errors, and writes refused once the store has failed)',
    labelNames: ['operation'],
    registers: [registry]
  })
  for (const operation of ['read', 'write']) errors.inc({ operation }, 0)
  return {
    written: (seconds, sync) => { latency.observe({ sync: sync ? 'true' : 'false' }, seconds) },
    failed: (operation) => { errors.inc({ operation }) }
  }
}
