import type { FastifyError, FastifyInstance } from 'fastify'
import { ErrorCode, isEphemeraError, type ErrorCodeValue } from '../util/errors.js'
import type { Logger } from '../util/logger.js'

const STATUS_BY_CODE: Partial<Record<ErrorCodeValue, number>> = {
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.DECODE]: 400,
  [ErrorCode.MESSAGE_REJECTED]: 400,
  [ErrorCode.DUPLICATE]: 409,
  [ErrorCode.MEMPOOL_FULL]: 429,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.EPOCH_DECIDED]: 409,
  [ErrorCode.SUBMISSION_INVALID]: 422,
  [ErrorCode.EPOCH_NOT_READY]: 425
}

export interface ApiErrorBody {
  error: string
  message: string
}

/**
 * The one place HTTP errors are mapped: typed errors → their status, malformed requests → 4xx,
 * unknown routes → JSON 404, anything unexpected → 500 with a generic body (and an error log).
 */
export function installErrorHandling (app: FastifyInstance, logger: Logger): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: ErrorCode.NOT_FOUND, message: `no route ${request.method} ${request.url}` } satisfies ApiErrorBody)
  })
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isEphemeraError(err)) {
      const status = STATUS_BY_CODE[err.code] ?? 400
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
