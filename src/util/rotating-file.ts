import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { errorMessage } from './errors.js'

export interface RotatingFileOptions {
  /** The live file; rotated ones are PATH.1 (newest) … PATH.maxFiles. */
  path: string
  /** Rotate before a write would take the live file past this many bytes. */
  maxBytes: number
  /** Rotated files kept; the oldest beyond them is deleted. */
  maxFiles: number
  /** Where a failing write is reported, once per `reportEveryMs` with a count (default: stderr). */
  report?: (line: string) => void
  reportEveryMs?: number
  now?: () => number
}

/**
 * A synchronous, size-rotated log file (a pino destination). The live file keeps its name, so
 * `tail -F` follows it; at most maxFiles + 1 files of about maxBytes each exist, so a process that
 * runs for months uses bounded disk. Logging must not stop the process: a write that fails (disk
 * full) is dropped and reported on stderr once per interval with the number dropped, and the
 * file is reopened at the next write.
 */
export class RotatingFile {
  readonly #opts: Required<Omit<RotatingFileOptions, 'report'>> & Pick<RotatingFileOptions, 'report'>
  #fd: number | undefined
  #size = 0
  #dropped = 0
  #lastReport = -Infinity

  constructor (opts: RotatingFileOptions) {
    if (!Number.isInteger(opts.maxBytes) || opts.maxBytes < 1) throw new RangeError('maxBytes must be a positive integer')
    if (!Number.isInteger(opts.maxFiles) || opts.maxFiles < 1) throw new RangeError('maxFiles must be a positive integer')
    this.#opts = { reportEveryMs: 60_000, now: Date.now, ...opts }
    this.#open()
  }

  write (line: string): void {
    const bytes = Buffer.byteLength(line)
    try {
      if (this.#fd == null) this.#open()
      if (this.#size > 0 && this.#size + bytes > this.#opts.maxBytes) this.#rotate()
      writeSync(this.#fd as number, line)
      this.#size += bytes
    } catch (err) {
      this.#fail(err)
    }
  }

  /** Closes the file (later writes reopen it). */
  close (): void {
    if (this.#fd == null) return
    const fd = this.#fd
    this.#fd = undefined
    try { closeSync(fd) } catch { /* already gone */ }
  }

  #open (): void {
    // 'a': a restart continues the live file; its size counts towards the bound
    const fd = openSync(this.#opts.path, 'a')
    this.#size = fstatSync(fd).size
    this.#fd = fd
  }

  #rotate (): void {
    this.close()
    const { path, maxFiles } = this.#opts
    rmSync(`${path}.${maxFiles}`, { force: true })
    for (let i = maxFiles - 1; i >= 1; i--) {
      try {
        renameSync(`${path}.${i}`, `${path}.${i + 1}`)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
    renameSync(path, `${path}.1`)
    this.#open()
  }

  #fail (err: unknown): void {
    this.#dropped++
    this.close()
    const now = this.#opts.now()
    if (now - this.#lastReport < this.#opts.reportEveryMs) return
    this.#lastReport = now
    const line = `log file ${this.#opts.path}: ${errorMessage(err)}; ${this.#dropped} log line${this.#dropped === 1 ? '' : 's'} dropped\n`
    this.#dropped = 0
    if (this.#opts.report != null) this.#opts.report(line)
    else process.stderr.write(line)
  }
}
