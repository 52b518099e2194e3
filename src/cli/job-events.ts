import { hearthPaths } from '../config/paths.js';
import { jobsConfig } from '../jobs/config.js';
import type { JobEvent } from '../jobs/events.js';
import { JobService } from '../jobs/service.js';
import type { JobRequest } from '../jobs/types.js';
import { Hearth } from '../sdk/client.js';
import { SqliteStore } from '../store/sqlite-store.js';

/** The server the CLI talks to, if any: `HEARTH_URL` (+ `HEARTH_TOKEN`). */
export function clientFromEnv(url = process.env.HEARTH_URL): Hearth | undefined {
  if (!url) return undefined;
  const token = process.env.HEARTH_TOKEN;
  return new Hearth({ baseUrl: url, ...(token ? { token } : {}) });
}

/** Submits a job to the server and follows its events (SSE). */
async function* remoteEvents(client: Hearth, request: JobRequest): AsyncGenerator<JobEvent> {
  const { id } = await client.jobs.create(request);
  yield* client.jobs.stream(id);
}

/**
 * Runs a job in this process: the same job service as `hearth serve` on an in-memory store, so
 * `hearth run` needs no server. Everything it started is freed before the generator ends.
 */
async function* embeddedEvents(request: JobRequest): AsyncGenerator<JobEvent> {
  const store = await SqliteStore.open({ path: ':memory:' });
  const service = new JobService({ store, config: jobsConfig(), paths: hearthPaths() });
  const queue: JobEvent[] = [];
  let wake: (() => void) | undefined;
  let off: (() => void) | undefined;
  try {
    const job = await service.submit(request);
    off = await service.subscribe(job.id, (e) => {
      queue.push(e);
      wake?.();
    });
    for (;;) {
      const e = queue.shift();
      if (!e) {
        await new Promise<void>((r) => {
          wake = r;
        });
        continue;
      }
      yield e;
      if (e.type === 'result') return;
    }
  } finally {
    off?.();
    await service.close({ graceMs: 0 });
    await store.close();
  }
}

/** A job's events: from the server at HEARTH_URL when set, else from an embedded job service. */
export function jobEvents(request: JobRequest, client = clientFromEnv()): AsyncGenerator<JobEvent> {
  return client ? remoteEvents(client, request) : embeddedEvents(request);
}
