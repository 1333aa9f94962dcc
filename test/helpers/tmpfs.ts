import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * Real small file systems for the full-disk tests: `mount -t tmpfs -o size=…` (needs root, or
 * CAP_SYS_ADMIN). Every test that mounts one unmounts it in a finally.
 */

/** Mounts a tmpfs of `bytes` on `dir` (created if missing). */
export async function mountTmpfs (dir: string, bytes: number): Promise<void> {
  await mkdir(dir, { recursive: true })
  await run('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 1024)}k`, 'tmpfs', dir])
}

/** Unmounts `dir`; lazily if a process that has just been killed still holds a file there. */
export async function unmountTmpfs (dir: string): Promise<void> {
  try {
    await run('umount', [dir])
  } catch {
    await run('umount', ['-l', dir]).catch(() => {})
  }
}

/** Whether this process may mount a tmpfs; otherwise why not (for the skip message). */
export async function tmpfsSupport (): Promise<{ ok: true } | { ok: false, reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux tmpfs (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'mounting a tmpfs needs root' }
  const probe = await mkdtemp(join(tmpdir(), 'ephemera-tmpfs-probe-'))
  try {
    await mountTmpfs(probe, 64 * 1024)
    await unmountTmpfs(probe)
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `mount -t tmpfs is not permitted here (${String((err as Error).message).split('\n')[0] ?? ''})` }
  } finally {
    await rm(probe, { recursive: true, force: true })
  }
}

/** Bytes still free for an unprivileged writer on the file system holding `dir`. */
export async function freeBytes (dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

/** Writes a junk file so that only about `leave` bytes stay free; returns its path (rm it to free the space). */
export async function fillDisk (dir: string, leave: number, name = 'junk'): Promise<string> {
  const file = join(dir, name)
  const size = Math.max(0, await freeBytes(dir) - leave)
  await writeFile(file, Buffer.alloc(size, 0x5a))
  return file
}
