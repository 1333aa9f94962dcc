import { InvalidArgumentError } from 'commander'

/** Integer option parser for commander: a bad value is a one-line usage error. */
export function intOption (min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`)
    }
    return n
  }
}

/** Repeatable option collector (`--set a=1 --set b=2`). */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function println (line = ''): void {
  process.stdout.write(line + '\n')
}

/** Fixed-width text table for human output. */
export function table (rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length) })
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n')
}

/**
 * A reader that closes the pipe early (`ephemera --help | head -1`) makes the next write fail with
 * EPIPE: that is the reader's choice, not an error, so the process ends quietly instead of dying
 * with a stack trace. Other stream errors keep their default handling.
 */
export function endQuietlyOnClosedPipe (): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw err
    })
  }
}
