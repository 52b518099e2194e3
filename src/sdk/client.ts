import type { JobEvent } from '../jobs/events.js';
import type { LanguageInfo } from '../jobs/languages.js';
import type { JobPage } from '../jobs/summary.js';
import type { Job, JobErrorInfo, JobRequest, JobStatus } from '../jobs/types.js';
import { errorFromResponse } from './errors.js';
import { parseSse } from './sse.js';

export interface HearthOptions {
  /** e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A token from the server's HEARTH_TOKENS. */
  token?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

export interface JobListQuery {
  status?: JobStatus;
  language?: string;
  limit?: number;
  cursor?: string;
}

/** Events of a job's stream: as the server's SSE, the final one always `result`. */
export type JobStreamEvent = Exclude<JobEvent, { type: 'result' }> | { type: 'result'; job: Job };

/** A small typed client of hearth's HTTP API. */
export class Hearth {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;

  constructor(opts: HearthOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, '');
    this.#headers = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  readonly jobs = {
    /** Submits a job; with `wait`, resolves with the finished job. */
    create: async (
      req: JobRequest,
      opts: { wait?: boolean } = {},
    ): Promise<Job | { id: string; status: JobStatus }> =>
      this.#call('POST', `/v1/jobs${opts.wait ? '?wait=true' : ''}`, req),
    /** Submits and waits: always the finished job. */
    run: async (req: JobRequest): Promise<Job> => this.#call('POST', '/v1/jobs?wait=true', req),
    batch: (reqs: JobRequest[]): Promise<Array<{ id: string } | { error: JobErrorInfo }>> =>
      this.#call('POST', '/v1/jobs/batch', { jobs: reqs }),
    get: (id: string): Promise<Job> => this.#call('GET', `/v1/jobs/${encodeURIComponent(id)}`),
    /** Summaries (status, timings, output sizes); `get` has a job's output. */
    list: (q: JobListQuery = {}): Promise<JobPage> => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
      const qs = params.toString();
      return this.#call('GET', `/v1/jobs${qs ? `?${qs}` : ''}`);
    },
    cancel: (id: string): Promise<Job> => this.#call('DELETE', `/v1/jobs/${encodeURIComponent(id)}`),
    /** Resolves with the job once it is final (follows its event stream). */
    wait: async (id: string): Promise<Job> => {
      for await (const e of this.jobs.stream(id)) if (e.type === 'result') return e.job;
      return this.jobs.get(id);
    },
    /** The job's events as they happen; a finished job yields its `result` at once. */
    stream: (id: string, opts: { signal?: AbortSignal } = {}): AsyncGenerator<JobStreamEvent> =>
      this.#stream(id, opts),
  };

  languages(): Promise<LanguageInfo[]> {
    return this.#call('GET', '/v1/languages');
  }

  health(): Promise<{ ok: boolean; queue: { depth: number; running: number } } & Record<string, unknown>> {
    return this.#call('GET', '/health');
  }

  async *#stream(id: string, opts: { signal?: AbortSignal }): AsyncGenerator<JobStreamEvent> {
    const res = await this.#fetch(`${this.#base}/v1/jobs/${encodeURIComponent(id)}/events`, {
      headers: { ...this.#headers, accept: 'text/event-stream' },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (!res.ok || !res.body) throw await errorFromResponse(res);
    for await (const m of parseSse(res.body)) {
      const data = JSON.parse(m.data);
      if (m.event === 'result') {
        yield { type: 'result', job: data as Job };
        return;
      }
      yield { type: m.event, ...data } as JobStreamEvent;
    }
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(`${this.#base}${path}`, {
      method,
      headers: { ...this.#headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as T;
  }
}
