import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { LanguageCatalog } from '../../jobs/languages.js';
import type { JobService } from '../../jobs/service.js';
import type { ServerMetrics } from '../metrics.js';

export interface SystemRoutesOptions {
  service: JobService;
  languages: LanguageCatalog;
  metrics: ServerMetrics;
}

/** /v1/languages, /health and /metrics. */
export const systemRoutes: FastifyPluginAsyncTypebox<SystemRoutesOptions> = async (app, o) => {
  app.get(
    '/v1/languages',
    {
      schema: {
        summary: 'Languages with aliases, image, whether compiled, whether runnable here, and version',
      },
    },
    async () => o.languages.list(),
  );

  app.get('/health', { schema: { summary: 'Liveness, backends probed so far, queue depth' } }, async () => {
    const backends = (await o.service.backends.loaded()).map((b) => ({
      name: b.backend.name,
      usable: b.probe.usable,
      reason: b.probe.reason,
    }));
    return {
      ok: true,
      backends,
      queue: {
        depth: o.service.queueDepth,
        running: o.service.runningCount,
        concurrency: o.service.config.concurrency,
      },
      pool: { ready: o.service.manager.pool.readyCount },
    };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    const text = await o.metrics.registry.metrics();
    return reply.type(o.metrics.registry.contentType).send(text);
  });
};
