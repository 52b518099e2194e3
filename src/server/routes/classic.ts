import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { JobService } from '../../jobs/service.js';
import type { JobStatus } from '../../jobs/types.js';
import { ClassicRunSchema, ErrorSchema, JobIdParams } from '../schemas.js';

const CLASSIC_STATUS: Record<JobStatus, 'pending' | 'running' | 'done' | 'error'> = {
  queued: 'pending',
  running: 'running',
  completed: 'done',
  error: 'error',
  cancelled: 'error',
};

/** The classic interface, kept as it was: POST /run and GET /status/:id. */
export const classicRoutes: FastifyPluginAsyncTypebox<{ service: JobService; bodyLimit: number }> = async (
  app,
  { service, bodyLimit },
) => {
  app.post(
    '/run',
    {
      bodyLimit,
      schema: {
        summary: 'Classic interface: submit {language, code}; poll GET /status/:id',
        body: ClassicRunSchema,
        response: { 202: Type.Object({ id: Type.String() }), 400: ErrorSchema, 413: ErrorSchema },
      },
    },
    async (req, reply) => {
      const job = await service.submit({ language: req.body.language, code: req.body.code });
      return reply.status(202).send({ id: job.id });
    },
  );

  app.get(
    '/status/:id',
    {
      schema: {
        summary: 'Classic interface: {id, status: pending|running|done|error, exit_code, stdout, stderr}',
        params: JobIdParams,
        response: { 200: Type.Unknown(), 404: ErrorSchema },
      },
    },
    async (req) => {
      const job = await service.get(req.params.id);
      const r = job.result;
      return {
        id: job.id,
        status: CLASSIC_STATUS[job.status],
        exit_code: r ? r.exitCode : null,
        stdout: r ? r.stdout : '',
        stderr: r ? r.stderr : job.error ? `${job.error.message}\n` : '',
        ...(job.error ? { error: job.error } : {}),
      };
    },
  );
};
