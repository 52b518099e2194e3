import type { FastifyError, FastifyInstance } from 'fastify';
import type { ErrorCode } from '../errors/codes.js';
import { HearthError } from '../errors/hearth-error.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_NOT_FOUND: 'ROUTE_NOT_FOUND',
};

/** Converts whatever a route or Fastify threw into a HearthError, once, at the HTTP boundary. */
export function toApiError(err: unknown): HearthError {
  if (err instanceof HearthError) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (fe && Array.isArray(fe.validation)) {
    return new HearthError('VALIDATION_FAILED', fe.message ?? 'the request is not valid', { cause: err });
  }
  const mapped = typeof fe?.code === 'string' ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new HearthError(mapped, fe.message ?? mapped, { cause: err });
  if (err instanceof SyntaxError) return new HearthError('INVALID_JSON', err.message, { cause: err });
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500)
    return new HearthError('BAD_REQUEST', fe.message ?? 'bad request', { cause: err });
  return new HearthError('INTERNAL', 'internal error', { cause: err });
}

/** One error shape for every route: `{ error: { code, message, hint } }` with the code's status. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err);
    if (e.code === 'INTERNAL') req.log.error({ err }, 'internal error');
    if (reply.sent || reply.raw.headersSent) return;
    void reply.status(e.status).send({ error: e.toJSON() });
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new HearthError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`);
    void reply.status(e.status).send({ error: e.toJSON() });
  });
}
