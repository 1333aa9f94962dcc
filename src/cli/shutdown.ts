import type { Logger } from '../util/logger.js'
import { errorMessage } from '../util/errors.js'

const DUPLICATE_SIGNAL_MS = 200

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
 * Runs a long-lived service until SIGINT/SIGTERM (or the supervisor's IPC channel closing): starts
 * it, logs fatal errors, and stops it gracefully once. A failed start is logged and rethrown (the
 * CLI prints one line).
 */
export async function runUntilSignal (logger: Logger, what: string, start: () => Promise<{ close: () => Promise<void> }>): Promise<void> {
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
    service = await start()
  } catch (err) {
    logger.error({ err: errorMessage(err) }, `${what} failed to start`)
    throw err
  }
  if (stopRequested) await service.close()
  await stopped
}
