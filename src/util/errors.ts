/**
 * Typed, coded errors. Every error the project raises on purpose is an EphemeraError with a code
 * from ErrorCode; docs/ERRORS.md lists them all (test/unit/util/errors.test.ts keeps the two in
 * step). The CLI prints `error: <message>` for these (no stack); the HTTP API maps each to its status
 * (src/api/errors.ts: 4xx for bad requests, 5xx for server-side failures).
 */

export const ErrorCode = {
  /** A configuration file or value is invalid (message names the source, key and problem). */
  CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  /** A configuration file does not exist or cannot be read. */
  CONFIG_NOT_FOUND: 'ERR_CONFIG_NOT_FOUND',
  /** A key file is malformed, of the wrong type, or readable by others. */
  KEY_INVALID: 'ERR_KEY_INVALID',
  /** A key file does not exist. */
  KEY_NOT_FOUND: 'ERR_KEY_NOT_FOUND',
  /** Refusing to overwrite existing keys or configs without --force. */
  ALREADY_EXISTS: 'ERR_ALREADY_EXISTS',
  /** The level database is held by another process. */
  DB_LOCKED: 'ERR_DB_LOCKED',
  /** The level database could not be opened or written. */
  DB_FAILED: 'ERR_DB_FAILED',
  /**
   * A storage write failed (ENOSPC, EIO, ...): the process stops acknowledging anything and exits
   * (fail-stop); every later write is refused with this code (HTTP 503).
   */
  STORAGE_FAILED: 'ERR_STORAGE_FAILED',
  /** This node's PeerId is not in the peers file. */
  NOT_A_MEMBER: 'ERR_NOT_A_MEMBER',
  /** A listen address or port is already in use. */
  ADDRESS_IN_USE: 'ERR_ADDRESS_IN_USE',
  /** Bad command-line usage (invalid flag value, missing argument). */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** A local cluster operation failed (already running, nothing to stop, mesh not formed). */
  CLUSTER: 'ERR_CLUSTER',
  /** Something did not happen before its deadline. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** The operation was cancelled (shutdown). */
  ABORTED: 'ERR_ABORTED',
  /** An HTTP request named a resource that does not exist. */
  NOT_FOUND: 'ERR_NOT_FOUND',
  /** An HTTP request was malformed. */
  BAD_REQUEST: 'ERR_BAD_REQUEST',
  /** Bytes from the network or the store did not decode (wrong shape, over a size limit). */
  DECODE: 'ERR_DECODE',
  /** A client message was refused: bad signature, or the application's checkTx said no. */
  MESSAGE_REJECTED: 'ERR_MESSAGE_REJECTED',
  /** The message is already in the mempool or in a delivered block. */
  DUPLICATE: 'ERR_DUPLICATE',
  /** The mempool is full; retry later (HTTP 429). */
  MEMPOOL_FULL: 'ERR_MEMPOOL_FULL',
  /** A block or certificate failed verification (the message says which check). */
  VERIFY_FAILED: 'ERR_VERIFY_FAILED',
  /** A remote node answered with an error or not at all (CLI clients). */
  REMOTE: 'ERR_REMOTE',
  /** A request to the coordinator is unsigned, badly signed, stale or replayed (HTTP 401). */
  UNAUTHORIZED: 'ERR_UNAUTHORIZED',
  /** The signer is not allowed to do this, e.g. not in the epoch's committee (HTTP 403). */
  FORBIDDEN: 'ERR_FORBIDDEN',
  /** The epoch already has an accepted submission: the first valid one wins (HTTP 409). */
  EPOCH_DECIDED: 'ERR_EPOCH_DECIDED',
  /** A submission failed verification; the message names the check (HTTP 422). */
  SUBMISSION_INVALID: 'ERR_SUBMISSION_INVALID',
  /** The epoch has not ended yet, or is unknown (HTTP 425 / 404). */
  EPOCH_NOT_READY: 'ERR_EPOCH_NOT_READY',
  /** A chunk's lease is another member's, expired, or the chunk is already contributed (HTTP 409). */
  LEASE_HELD: 'ERR_LEASE_HELD',
  /** The epoch passed its finalization deadline without committing; the reason is kept (HTTP 410). */
  EPOCH_FAILED: 'ERR_EPOCH_FAILED',
  /** The key is banned from the committee (the ban names its reason and evidence) (HTTP 403). */
  BANNED: 'ERR_BANNED',
  /** The coordinator's queue of validators waiting to join is full; retry later (HTTP 429). */
  QUEUE_FULL: 'ERR_QUEUE_FULL',
  /** The change would take the committee outside its minimum or maximum size (HTTP 409). */
  COMMITTEE_SIZE: 'ERR_COMMITTEE_SIZE',
  /** Equivocation evidence did not check out; the message says why (HTTP 422). */
  EVIDENCE_INVALID: 'ERR_EVIDENCE_INVALID'
} as const

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode]

export class EphemeraError extends Error {
  readonly code: ErrorCodeValue
  readonly details: Record<string, unknown>

  constructor (code: ErrorCodeValue, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'EphemeraError'
    this.code = code
    this.details = details
  }

  toJSON (): { code: ErrorCodeValue, message: string } {
    return { code: this.code, message: this.message }
  }
}

export class ConfigError extends EphemeraError {
  constructor (message: string, details: Record<string, unknown> = {}, code: ErrorCodeValue = ErrorCode.CONFIG_INVALID) {
    super(code, message, details)
    this.name = 'ConfigError'
  }
}

export class AbortError extends EphemeraError {
  constructor (message = 'the operation was aborted') {
    super(ErrorCode.ABORTED, message)
    this.name = 'AbortError'
  }
}

export class TimeoutError extends EphemeraError {
  constructor (message = 'the operation timed out') {
    super(ErrorCode.TIMEOUT, message)
    this.name = 'TimeoutError'
  }
}

export function isEphemeraError (err: unknown): err is EphemeraError {
  return err instanceof EphemeraError
}

/** One line describing any thrown value, for logs and CLI output. */
export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
