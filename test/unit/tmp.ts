import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

/**
 * A fresh temp dir per call, removed after the test that created it. Call from inside a test
 * (or a beforeEach) so the afterEach hook registered here belongs to the calling file.
 */
const created: string[] = []

afterEach(async () => {
  const dirs = created.splice(0)
  await Promise.all(dirs.map(async (dir) => { await rm(dir, { recursive: true, force: true }) }))
})

export async function tempDir (prefix = 'ephemera-unit-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  created.push(dir)
  return dir
}
