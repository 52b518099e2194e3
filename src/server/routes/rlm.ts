import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { RlmRun, RlmRunRequest } from '../../api/rlm.js';
import type { RlmService } from '../../rlm/service.js';
import { ErrorSchema } from '../schemas.js';
import { streamEvents, wantsEventStream } from '../session-stream.js';

export interface RlmRoutesOptions {
  rlm: RlmService;
}

const errors = { 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 503: ErrorSchema };

/**
 * Recursive-language-model runs. POST waits for the run and answers it, or — with `Accept:
 * text/event-stream` — streams `run` {id, parentId, depth} as each run (and sub-run) starts, `step`
 * {depth, …step} as each model answer has run, then `result` (the run) or `error`. A reader that
 * goes away cancels the run; its session is freed either way.
 */
export const rlmRoutes: FastifyPluginAsyncTypebox<RlmRoutesOptions> = async (app, { rlm }) => {
  app.post(
    '/v1/rlm/runs',
    {
      // A context may be large: up to 64 MiB of it in the body.
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        summary: 'Run a recursive language model over a session: the context goes into its REPL',
        body: RlmRunRequest,
        response: { 200: RlmRun, ...errors },
      },
    },
    async (req, reply) => {
      const input = await rlm.prepare(req.body);
      if (!wantsEventStream(req)) {
        const ctrl = new AbortController();
        const onClose = () => ctrl.abort();
        req.raw.socket.once('close', onClose);
        try {
          return await rlm.start(input, { signal: ctrl.signal });
        } finally {
          req.raw.socket.off('close', onClose);
        }
      }
      await streamEvents(req, reply, (send, signal) =>
        rlm.start(input, {
          signal,
          events: {
            onRun: (r) => send('run', r),
            onStep: (step, depth) => send('step', { depth, ...step }),
          },
        }),
      );
      return reply;
    },
  );

  app.get(
    '/v1/rlm/runs/:id',
    {
      schema: {
        summary: 'A run with its steps in order (to replay it) and the sub-runs it started',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: {
          200: Type.Intersect([RlmRun, Type.Object({ children: Type.Array(Type.String()) })]),
          ...errors,
        },
      },
    },
    async (req) => rlm.getWithChildren(req.params.id),
  );
};
