import { createRequire } from 'node:module'
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino'
import type { PinoPretty as PinoPrettyFactory } from 'pino-pretty'
import { RotatingFile } from './rotating-file.js'

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

export type LogFormat = 'json' | 'pretty'

/**
 * LOG_FORMAT=json|pretty if set; otherwise human-readable lines on a terminal and JSON lines
 * anywhere else (files, pipes, journald), which tools parse.
 */
export function logFormat (env: NodeJS.ProcessEnv = process.env, isTty: boolean = process.stdout.isTTY === true): LogFormat {
  const chosen = env.LOG_FORMAT?.toLowerCase()
  if (chosen === 'json' || chosen === 'pretty') return chosen
  return isTty ? 'pretty' : 'json'
}

export interface LoggerOptions {
  /** Default: logFormat(). */
  format?: LogFormat
  level?: LogLevel
  /** Extra fields on every line (e.g. the node name). */
  base?: Record<string, unknown>
  destination?: DestinationStream
  /** Write JSON lines to this size-rotated file instead of stdout (config `log.file`). */
  file?: { path: string, maxBytes: number, maxFiles: number }
}

/** The config's `log` section, as createLogger's file option. */
export function logFileOption (log: { file?: string, max_file_bytes: number, max_files: number }): LoggerOptions['file'] {
  return log.file == null ? undefined : { path: log.file, maxBytes: log.max_file_bytes, maxFiles: log.max_files }
}

/**
 * pino-pretty (and its ~35 modules) is loaded only when pretty output is chosen: processes that
 * log JSON (to a file, a pipe, journald) never load it. It is CommonJS, so it loads synchronously.
 */
function loadPinoPretty (): typeof PinoPrettyFactory {
  return (createRequire(import.meta.url)('pino-pretty') as { PinoPretty: typeof PinoPrettyFactory }).PinoPretty
}

/**
 * Structured logs (pino): JSON lines, or the same records pretty-printed (pino-pretty, synchronous)
 * for a terminal, or JSON lines to a size-rotated file. Subsystems take `logger.child({ module })`.
 */
export function createLogger (opts: LoggerOptions = {}): Logger {
  const pretty = (opts.format ?? logFormat()) === 'pretty'
  const destination = opts.destination ?? (opts.file != null ? new RotatingFile(opts.file) : pretty
    ? loadPinoPretty()({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    : pino.destination({ sync: true }))
  return pino({
    level: opts.level ?? defaultLogLevel(),
    base: { pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }, destination)
}

/** A logger that drops everything, for library callers that pass none. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
