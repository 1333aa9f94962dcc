import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino'

export type Logger = PinoLogger
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function isLogLevel (value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)
}

/**
 * The level when nothing else says: LOG_LEVEL if set, `silent` inside the test runner (tests are
 * quiet unless asked), `info` otherwise.
 */
export function defaultLogLevel (env: NodeJS.ProcessEnv = process.env): LogLevel {
  const fromEnv = env.LOG_LEVEL
  if (isLogLevel(fromEnv)) return fromEnv
  if (env.VITEST != null) return 'silent'
  return 'info'
}

export interface LoggerOptions {
  level?: LogLevel
  /** Extra fields on every line (e.g. the node name). */
  base?: Record<string, unknown>
  destination?: DestinationStream
}

/** Structured JSON lines (pino). Subsystems take `logger.child({ module })`. */
export function createLogger (opts: LoggerOptions = {}): Logger {
  return pino({
    level: opts.level ?? defaultLogLevel(),
    base: { pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }, opts.destination ?? pino.destination({ sync: true }))
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
