import { execFile } from 'node:child_process'
import { mkdir, open, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

/**
 * A small tmpfs as a process's data dir, to fill up on purpose. Mounting needs root (or
 * CAP_SYS_ADMIN); where it is not permitted the scenario is skipped with the reason.
 */

const exec = promisify(execFile)

/** Mounts a tmpfs of `sizeMiB` at `dir` (created if need be); returns why not, if it cannot. */
export async function mountTmpfs (dir: string, sizeMiB: number): Promise<string | undefined> {
  await mkdir(dir, { recursive: true })
  try {
    await exec('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0755`, 'tmpfs', dir], { timeout: 10_000 })
    return undefined
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    return `cannot mount a tmpfs at ${dir} (needs root or CAP_SYS_ADMIN): ${(e.stderr ?? e.message).trim()}`
  }
}

export async function umount (dir: string): Promise<void> {
  try {
    await exec('umount', [dir], { timeout: 10_000 })
  } catch {
    // still busy (a process we could not kill?): detach it lazily so the dir can go
    await exec('umount', ['-l', dir], { timeout: 10_000 }).catch(() => {})
  }
}

/** Writes junk into `dir` until the file system is full; returns the junk file. */
export async function fillDisk (dir: string): Promise<{ file: string, bytes: number }> {
  const file = join(dir, 'junk.fill')
  const handle = await open(file, 'w')
  const chunk = Buffer.alloc(256 * 1024, 0x5a)
  let bytes = 0
  try {
    for (;;) {
      const { bytesWritten } = await handle.write(chunk)
      bytes += bytesWritten
      if (bytesWritten < chunk.length) break
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  // the last few blocks too
  for (let size = 64 * 1024; size >= 512; size /= 2) {
    try {
      const { bytesWritten } = await handle.write(Buffer.alloc(size, 0x5a))
      bytes += bytesWritten
    } catch {}
  }
  await handle.close()
  return { file, bytes }
}

export async function freeDisk (file: string): Promise<void> {
  await rm(file, { force: true })
}

export async function freeBytes (dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}
