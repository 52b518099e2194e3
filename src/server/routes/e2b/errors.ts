import type { FastifyError, FastifyInstance } from 'fastify';
import { HearthError } from '../../../errors/hearth-error.js';
import { toApiError } from '../../errors.js';

/** An error answered in E2B's REST shape, `{code, message}`, with `code` the HTTP status. */
export class E2bHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'E2bHttpError';
  }
}

export function e2bError(status: number, message: string): E2bHttpError {
  return new E2bHttpError(status, message);
}

/** The status and message E2B clients get for anything a route threw. */
export function e2bStatus(err: unknown): { status: number; message: string } {
  if (err instanceof E2bHttpError) return { status: err.status, message: err.message };
  const e = err instanceof HearthError ? err : toApiError(err as FastifyError);
  const message = e.hint ? `${e.message} (${e.hint})` : e.message;
  return { status: e.status, message };
}

/**
 * E2B's REST error shape for every route of `scope`, and a JSON parser that takes an empty body as
 * none (the code interpreter's SDK sends `Content-Type: application/json` with no body).
 */
export function useE2bRestShape(scope: FastifyInstance): void {
  scope.setErrorHandler((err, req, reply) => {
    const { status, message } = e2bStatus(err);
    if (status >= 500 && !(err instanceof E2bHttpError)) req.log.error({ err }, 'internal error');
    if (reply.sent || reply.raw.headersSent) return;
    void reply.status(status).send({ code: status, message });
  });
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const s = String(text);
    if (s.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(s));
    } catch {
      done(new E2bHttpError(400, 'the request body is not valid JSON'), undefined);
    }
  });
}
