import type { FastifyError, FastifyInstance } from 'fastify'
import { ErrorCode, isEphemeraError, type ErrorCodeValue } from '../util/errors.js'
import type { Logger } from '../util/logger.js'

/**
 * The HTTP status of every error code, total by type: adding a code to ErrorCode without a status
 * here fails the typecheck. 4xx means the client's request was at fault; 5xx means the server (its
 * storage, its configuration, a party it depends on) was. README "HTTP API" and docs/ERRORS.md list
 * the 5xx codes; test/unit/api/errors.test.ts keeps them in step.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCodeValue, number>> = Object.freeze({
  // the client's fault
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.MESSAGE_REJECTED]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.DUPLICATE]: 409,
  [ErrorCode.ALREADY_EXISTS]: 409,
  [ErrorCode.EPOCH_DECIDED]: 409,
  [ErrorCode.LEASE_HELD]: 409,
  [ErrorCode.COMMITTEE_SIZE]: 409,
  [ErrorCode.BANNED]: 403,
  [ErrorCode.QUEUE_FULL]: 429,
  [ErrorCode.EVIDENCE_INVALID]: 422,
  [ErrorCode.EPOCH_FAILED]: 410,
  [ErrorCode.SUBMISSION_INVALID]: 422,
  [ErrorCode.EPOCH_NOT_READY]: 425,
  [ErrorCode.MEMPOOL_FULL]: 429,
  // the server's fault: its own state or set-up (API input is JSON, so undecodable bytes come
  // from the server's store or peers, never from the client)
  [ErrorCode.DECODE]: 500,
  [ErrorCode.CONFIG_INVALID]: 500,
  [ErrorCode.CONFIG_NOT_FOUND]: 500,
  [ErrorCode.KEY_INVALID]: 500,
  [ErrorCode.KEY_NOT_FOUND]: 500,
  [ErrorCode.NOT_A_MEMBER]: 500,
  [ErrorCode.ADDRESS_IN_USE]: 500,
  [ErrorCode.CLUSTER]: 500,
  // another party (coordinator, peer) failed or sent something that does not verify
  [ErrorCode.REMOTE]: 502,
  [ErrorCode.VERIFY_FAILED]: 502,
  // temporarily unable to serve: storage down, shutting down
  [ErrorCode.DB_LOCKED]: 503,
  [ErrorCode.DB_FAILED]: 503,
  [ErrorCode.STORAGE_FAILED]: 503,
  [ErrorCode.ABORTED]: 503,
  // something the server waited for did not happen in time
  [ErrorCode.TIMEOUT]: 504
})

/** The status for an error code; a code this build does not know is a server fault (500). */
export function statusForCode (code: string): number {
  return Object.hasOwn(STATUS_BY_CODE, code) ? STATUS_BY_CODE[code as ErrorCodeValue] : 500
}

export interface ApiErrorBody {
  error: string
  message: string
}

/**
 * The one place HTTP errors are mapped: typed errors → their status (STATUS_BY_CODE), malformed
 * requests → 4xx, unknown routes → JSON 404, anything unexpected → 500 with a generic body (and an
 * error log). Typed 5xx answers keep their code and one-line message and are logged too.
 */
export function installErrorHandling (app: FastifyInstance, logger: Logger): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: ErrorCode.NOT_FOUND, message: `no route ${request.method} ${request.url}` } satisfies ApiErrorBody)
  })
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isEphemeraError(err)) {
      const status = statusForCode(err.code)
      if (status >= 500) logger.error({ code: err.code, err: err.message, method: request.method, url: request.url, status }, 'HTTP request failed on the server side')
      // an error may carry extra fields for the answer (e.g. the winning record of a decided epoch)
      const extra = typeof err.details.response === 'object' && err.details.response != null ? err.details.response : {}
      void reply.code(status).send({ ...extra, error: err.code, message: err.message })
      return
    }
    if (err.validation != null || (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)) {
      void reply.code(err.statusCode ?? 400).send({ error: ErrorCode.BAD_REQUEST, message: err.message } satisfies ApiErrorBody)
      return
    }
    logger.error({ err, method: request.method, url: request.url }, 'unexpected error in HTTP handler')
    void reply.code(500).send({ error: 'ERR_INTERNAL', message: 'internal error' } satisfies ApiErrorBody)
  })
}
