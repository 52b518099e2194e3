import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { HearthError } from '../../errors/hearth-error.js';
import type { JobService } from '../../jobs/service.js';
import { JobPageSchema } from '../../jobs/summary.js';
import type { JobRequest } from '../../jobs/types.js';
import {
  AcceptedSchema,
  BatchSchema,
  ErrorSchema,
  JobIdParams,
  JobRequestSchema,
  ListQuery,
  WaitQuery,
} from '../schemas.js';
import { SSE_HEADERS, SseStream } from '../sse.js';
import { toJobRequest } from '../validate.js';

export interface JobRoutesOptions {
  service: JobService;
  /** Body limit of one job request (code cap plus room for stdin and JSON). */
  bodyLimit: number;
}

const errors = { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 413: ErrorSchema, 429: ErrorSchema };

/** POST/GET/DELETE /v1/jobs, the batch endpoint and the job list. */
export const jobRoutes: FastifyPluginAsyncTypebox<JobRoutesOptions> = async (app, { service, bodyLimit }) => {
  app.post(
    '/v1/jobs',
    {
      bodyLimit,
      schema: {
        summary: 'Submit a job; `?wait=true` answers when it has finished',
        body: JobRequestSchema,
        querystring: WaitQuery,
        response: { 202: AcceptedSchema, ...errors },
      },
    },
    async (req, reply) => {
      const job = await service.submit(req.body as JobRequest);
      const wait = req.query.wait === 'true' || req.query.wait === '1';
      if (!wait) return reply.status(202).send({ id: job.id, status: job.status });
      const ctrl = new AbortController();
      const onClose = () => ctrl.abort();
      reply.raw.once('close', onClose);
      try {
        return reply.status(200).send(await service.wait(job.id, ctrl.signal));
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );

  app.post(
    '/v1/jobs/batch',
    {
      bodyLimit: bodyLimit * service.config.maxBatch,
      schema: {
        summary:
          'Submit several jobs (each as POST /v1/jobs; a malformed one fails the batch with 400 naming its index); each item gets an id or its own error',
        body: BatchSchema,
      },
    },
    async (req, reply) => {
      const { jobs } = req.body;
      if (jobs.length > service.config.maxBatch) {
        throw new HearthError(
          'BATCH_TOO_LARGE',
          `${jobs.length} jobs; the maximum per batch is ${service.config.maxBatch}`,
        );
      }
      const items = await service.submitBatch(jobs.map((j, i) => toJobRequest(j, `jobs[${i}]`)));
      return reply.status(202).send(items);
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        summary: 'List jobs, newest first, a page at a time, as summaries (sizes, not output)',
        querystring: ListQuery,
        response: { 200: JobPageSchema, 400: ErrorSchema },
      },
    },
    async (req) => {
      const q = req.query;
      return service.list({
        ...(q.status ? { status: q.status } : {}),
        ...(q.language ? { language: q.language } : {}),
        ...(q.limit ? { limit: Number(q.limit) } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'A job with its result once finished',
        params: JobIdParams,
        response: { 200: Type.Unknown(), 404: ErrorSchema },
      },
    },
    async (req) => service.get(req.params.id),
  );

  app.delete(
    '/v1/jobs/:id',
    {
      schema: {
        summary: 'Cancel a queued or running job (409 JOB_FINISHED if it already ended)',
        params: JobIdParams,
        response: { 200: Type.Unknown(), 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (req) => service.cancel(req.params.id),
  );

  app.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        summary:
          'Server-sent events: `status`, `stage`, `output` {stage, stream, data} as they happen, then `result`',
        params: JobIdParams,
        response: { 200: Type.String({ description: 'text/event-stream' }), 404: ErrorSchema },
      },
    },
    async (req, reply) => {
      await service.get(req.params.id);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, SSE_HEADERS);
      res.write(': hearth job events\n\n');
      let off: (() => void) | undefined;
      const stream = new SseStream(res, () => off?.());
      const unsubscribe = await service.subscribe(req.params.id, (e) => stream.push(e));
      if (stream.closed) unsubscribe();
      else off = unsubscribe;
    },
  );
};
