import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { HearthError } from '../../errors/hearth-error.js';
import type { LanguageInfo } from '../../jobs/languages.js';
import type { JobService } from '../../jobs/service.js';
import type { Job } from '../../jobs/types.js';
import { toApiError } from '../errors.js';
import { PistonRequestError, pistonLimits, toPistonJob, UNKNOWN_VERSION } from '../piston/request.js';
import { OutputOrder, toPistonResult } from '../piston/result.js';

export interface PistonRoutesOptions {
  service: JobService;
  /** Body limit of one execute request (as for POST /v1/jobs). */
  bodyLimit: number;
  /** How long GET /api/v2/runtimes waits for the version probe of built images. @default 20000 */
  probeWaitMs?: number;
}

const PistonError = Type.Object({ message: Type.String() });

/** The built languages, once their versions are probed (or `probeWaitMs` passed). */
async function builtLanguages(service: JobService, probeWaitMs: number): Promise<LanguageInfo[]> {
  const built = service.languages.list().filter((l) => l.available);
  const images = [...new Set(built.filter((l) => l.version === null).map((l) => l.image))];
  if (images.length) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(images.map((i) => service.languages.probe(i))),
      new Promise((r) => {
        timer = setTimeout(r, probeWaitMs);
      }),
    ]);
    clearTimeout(timer);
    return service.languages.list().filter((l) => l.available);
  }
  return built;
}

/** Waits for a job's end, keeping its output chunks in order; stops waiting if the client leaves. */
function follow(service: JobService, id: string, order: OutputOrder, gone: AbortSignal): Promise<Job> {
  return new Promise<Job>((resolve, reject) => {
    let off: (() => void) | undefined;
    let done = false;
    const onGone = () => {
      off?.();
      // Nobody hears the answer; the job runs on, as a job whose waiter left does.
      reject(new HearthError('CANCELLED', 'stopped waiting: the client went away'));
    };
    gone.addEventListener('abort', onGone, { once: true });
    service
      .subscribe(id, (e) => {
        if (e.type !== 'result') return order.push(e);
        done = true;
        off?.();
        gone.removeEventListener('abort', onGone);
        resolve(e.job);
      })
      .then((o) => {
        off = o;
        if (done) o();
      }, reject);
  });
}

/**
 * Piston's v2 API on the job service: GET /api/v2/runtimes and POST /api/v2/execute, with Piston's
 * answers and its `{message}` errors, so Piston clients work unchanged (pointed at this server).
 */
export const pistonRoutes: FastifyPluginAsyncTypebox<PistonRoutesOptions> = async (app, o) => {
  const { service } = o;
  const probeWaitMs = o.probeWaitMs ?? 20_000;
  // piston-client posts JSON without a JSON content type (node-fetch labels a string text/plain).
  // Browsers are kept out as elsewhere: by the bearer token, or by the browser guard without one.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // Errors in Piston's shape, `{message}`, with hearth's status (400 for a bad request).
  app.setErrorHandler((err, req, reply) => {
    const e = err instanceof PistonRequestError ? undefined : toApiError(err);
    if (e?.code === 'INTERNAL') req.log.error({ err }, 'internal error');
    if (reply.sent || reply.raw.headersSent) return;
    void reply.status(e?.status ?? 400).send({ message: e?.message ?? (err as Error).message });
  });

  app.get(
    '/api/v2/runtimes',
    {
      schema: {
        summary: "Piston's runtimes: the built languages with their versions",
        response: {
          200: Type.Array(
            Type.Object({
              language: Type.String(),
              version: Type.String(),
              aliases: Type.Array(Type.String()),
            }),
          ),
        },
      },
    },
    async () =>
      (await builtLanguages(service, probeWaitMs)).map((l) => ({
        language: l.name,
        version: l.version ?? UNKNOWN_VERSION,
        aliases: l.aliases,
      })),
  );

  app.post(
    '/api/v2/execute',
    {
      bodyLimit: o.bodyLimit,
      schema: {
        summary: "Piston's execute: run files as a job and answer {language, version, run, compile?}",
        body: Type.Unknown({ description: "Piston's execute request; checked as Piston checks it" }),
        response: {
          200: Type.Unknown(),
          400: PistonError,
          409: PistonError,
          413: PistonError,
          429: PistonError,
          500: PistonError,
          503: PistonError,
        },
      },
    },
    async (req, reply) => {
      const { job: request, lang } = toPistonJob(req.body, {
        languages: service.languages.list(),
        limits: pistonLimits(service.config),
      });
      const submitted = await service.submit(request);
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once('close', onClose);
      const order = new OutputOrder(4 * service.config.maxLimits.maxOutputBytes);
      try {
        const job = await follow(service, submitted.id, order, gone.signal);
        const version = service.languages.list().find((l) => l.name === lang.name)?.version;
        const result = toPistonResult({ job, version: version ?? lang.version ?? UNKNOWN_VERSION, order });
        if (!result) {
          // hearth could not run it (a sandbox failure, shutdown): Piston answers 500 then.
          const status = job.status === 'cancelled' ? 409 : 500;
          return reply.status(status).send({ message: job.error?.message ?? `the job ended ${job.status}` });
        }
        return result;
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );
};
