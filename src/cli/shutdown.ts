import type { Logger } from '../util/logger.js'
import { errorMessage, type EphemeraError } from '../util/errors.js'

const DUPLICATE_SIGNAL_MS = 200

/**
 * Exit status of a process whose storage failed (EX_IOERR in sysexits.h): a write to its level
 * database failed (disk full, I/O error), so it stopped at once without acknowledging anything
 * further and without the graceful shutdown (which would write). Free space or fix the disk, then
 * start it again.
 */
export const EXIT_STORAGE_FAILED = 74

/** What runUntilSignal hands the service it starts. */
export interface ServiceContext {
  /**
   * Fail-stop: the service calls this once when its storage fails, after logging its one fatal
   * line. The process exits EXIT_STORAGE_FAILED at once: no graceful shutdown, no further answer.
   */
  onFatal: (err: EphemeraError) => void
}

export interface ShutdownOptions {
  /** Hard deadline for the graceful stop; past it the process exits 1. */
  timeoutMs?: number
  logger?: Logger
  /** Also stop when the parent's IPC channel closes (a cluster supervisor died). */
  exitWithParent?: boolean
}

/**
 * Graceful shutdown, once: the first SIGINT/SIGTERM (or the supervisor's IPC channel closing)
 * runs `stop`, then the process exits 0; a second signal forces exit 130 at once; a stop that
 * outlives its deadline exits 1. Returns a promise that settles when `stop` has run.
 */
export function onShutdown (stop: (reason: string) => Promise<void>, opts: ShutdownOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const { promise, resolve } = Promise.withResolvers<void>()
  let stoppingSince: number | undefined
  const begin = (reason: string): void => {
    if (stoppingSince != null) {
      // one kill of a process group (e.g. by timeout(1)) can deliver the same signal twice
      if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return
      opts.logger?.warn({ reason }, 'second signal: forcing exit')
      process.exit(130)
    }
    stoppingSince = Date.now()
    opts.logger?.info({ reason }, 'shutting down')
    const timer = setTimeout(() => {
      opts.logger?.error({ timeoutMs }, 'graceful shutdown took too long: forcing exit')
      process.exit(1)
    }, timeoutMs)
    timer.unref()
    stop(reason).then(() => {
      clearTimeout(timer)
      resolve()
    }, (err: unknown) => {
      opts.logger?.error({ err: errorMessage(err) }, 'error during shutdown')
      process.exitCode = 1
      clearTimeout(timer)
      resolve()
    })
  }
  process.on('SIGINT', () => { begin('SIGINT') })
  process.on('SIGTERM', () => { begin('SIGTERM') })
  if (opts.exitWithParent === true && process.channel != null) {
    process.on('disconnect', () => { begin('supervisor went away') })
    process.channel.unref()
  }
  return promise
}

/**
 * The fail-stop exit: the service has logged its one fatal line (or, with logging off, this
 * prints the message as the CLI's one `error:` line), then the process exits EXIT_STORAGE_FAILED
 * synchronously, so nothing runs after the failed write: no request is answered, no shutdown step
 * writes. pino writes synchronously, so the fatal line is out.
 */
export function exitOnStorageFailure (logger: Logger): (err: EphemeraError) => void {
  return (err) => {
    if (!logger.isLevelEnabled('fatal')) process.stderr.write(`error: ${err.message.split('\n')[0] ?? ''}\n`)
    process.exit(EXIT_STORAGE_FAILED)
  }
}

/**
 * Runs a long-lived service until SIGINT/SIGTERM (or the supervisor's IPC channel closing): starts
 * it, logs fatal errors, and stops it gracefully once. A failed start is logged and rethrown (the
 * CLI prints one line). A storage failure, during start or after, exits EXIT_STORAGE_FAILED at
 * once (ServiceContext.onFatal).
 */
export async function runUntilSignal (logger: Logger, what: string, start: (context: ServiceContext) => Promise<{ close: () => Promise<void> }>): Promise<void> {
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: exiting')
    process.exit(1)
  })
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection: exiting')
    process.exit(1)
  })
  // signals that arrive during start-up stop the service as soon as it is up
  let service: { close: () => Promise<void> } | undefined
  let stopRequested = false
  const stopped = onShutdown(async () => {
    stopRequested = true
    await service?.close()
  }, { logger, exitWithParent: true, timeoutMs: 10_000 })
  try {
    service = await start({ onFatal: exitOnStorageFailure(logger) })
  } catch (err) {
    // the CLI prints the one `error:` line; the log keeps the detail for LOG_LEVEL=debug only
    logger.debug({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, `${what} failed to start`)
    throw err
  }
  if (stopRequested) await service.close()
  await stopped
}
