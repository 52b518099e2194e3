import type { OutputHandlers } from '../api/sessions-api.js';
import { apiError, errorFromEvent, errorFromResponse, HearthApiError, TimeoutError } from './errors.js';
import { parseSse } from './sse.js';

/** Where the server is and how to reach it. */
export interface ConnectionOptions {
  /** e.g. `http://127.0.0.1:8080`. @default process.env.HEARTH_URL, else `http://127.0.0.1:8080` */
  baseUrl?: string;
  /** A token from the server's HEARTH_TOKENS. @default process.env.HEARTH_TOKEN */
  token?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /**
   * How long one plain request may take before it fails with a TimeoutError; calls that run code
   * get their own timeoutMs on top of this. @default 60000
   */
  requestTimeoutMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw bytes instead of JSON. */
  bytes?: Buffer | string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Extra time this call may take beyond the request timeout (a command's own timeoutMs). */
  extraMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';

/** JSON, bytes and server-sent events over fetch, with hearth's error answers as typed errors. */
export class HttpCore {
  readonly baseUrl: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(opts: ConnectionOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? process.env.HEARTH_URL ?? DEFAULT_URL).replace(/\/+$/, '');
    const token = opts.token ?? process.env.HEARTH_TOKEN;
    this.#headers = token ? { authorization: `Bearer ${token}` } : {};
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#timeoutMs = opts.requestTimeoutMs ?? 60_000;
  }

  /** The authorization header of every request (for a WebSocket). */
  authHeaders(): Record<string, string> {
    return { ...this.#headers };
  }

  /** A request whose answer is JSON (or empty, for 204). */
  json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    return this.#request(method, path, o, 'application/json', async (res) =>
      res.status === 204 ? (undefined as T) : ((await res.json()) as T),
    );
  }

  /** A request whose answer is the bytes of a file. */
  bytes(method: string, path: string, o: RequestOptions = {}): Promise<Buffer> {
    return this.#request(method, path, o, 'application/octet-stream', async (res) =>
      Buffer.from(await res.arrayBuffer()),
    );
  }

  /**
   * A request answered with server-sent events: `stdout` and `stderr` go to the handlers as they
   * come, `error` throws, and the `result` event's data is the answer.
   */
  events<T>(method: string, path: string, o: RequestOptions, h: OutputHandlers): Promise<T> {
    return this.#request(method, path, o, 'text/event-stream', async (res) => {
      if (!res.body) throw apiError(502, { code: 'SANDBOX_LOST', message: 'the answer had no body' });
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        return (await res.json()) as T;
      }
      for await (const m of parseSse(res.body)) {
        const data = JSON.parse(m.data) as Record<string, unknown>;
        if (m.event === 'result') return data as T;
        if (m.event === 'error') throw errorFromEvent(data);
        if (typeof data.data !== 'string') continue;
        if (m.event === 'stdout') h.onStdout?.(data.data);
        else if (m.event === 'stderr') h.onStderr?.(data.data);
      }
      throw apiError(502, { code: 'SANDBOX_LOST', message: 'the event stream ended without a result' });
    });
  }

  /** One request and the reading of its answer, under one deadline; failures become HearthApiErrors. */
  async #request<T>(
    method: string,
    path: string,
    o: RequestOptions,
    accept: string,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [k, v] of Object.entries(o.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...this.#headers, accept };
    let body: string | Uint8Array | undefined;
    if (o.bytes !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = typeof o.bytes === 'string' ? Buffer.from(o.bytes) : o.bytes;
    } else if (o.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.body);
    }
    const deadline = AbortSignal.timeout(this.#timeoutMs + (o.extraMs ?? 0));
    const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
    let answered = false;
    try {
      const res = await this.#fetch(url, {
        method,
        headers,
        signal,
        ...(body === undefined ? {} : { body }),
      });
      answered = true;
      if (!res.ok) throw await errorFromResponse(res);
      return await read(res);
    } catch (err) {
      if (err instanceof HearthApiError) throw err;
      if (o.signal?.aborted) throw err; // the caller's own abort: its reason, as fetch gives it
      throw this.#transportError(err, deadline, answered);
    }
  }

  #transportError(err: unknown, deadline: AbortSignal, answered: boolean): Error {
    if (deadline.aborted) {
      return new TimeoutError(0, {
        code: 'REQUEST_TIMEOUT',
        message: `no ${answered ? 'full ' : ''}answer from ${this.baseUrl} in time`,
        hint: 'Raise requestTimeoutMs, or run long work in the background.',
      });
    }
    if (err instanceof SyntaxError) {
      return apiError(502, {
        code: 'BAD_REQUEST',
        message: `${this.baseUrl} answered with something not JSON`,
      });
    }
    const what = answered ? 'lost the connection to' : 'cannot reach';
    return new HearthApiError(
      0,
      {
        code: 'BACKEND_UNAVAILABLE',
        message: `${what} ${this.baseUrl}: ${(err as Error)?.message ?? String(err)}`,
        hint: 'Start a server with `hearth serve`, or set HEARTH_URL to one.',
      },
      { cause: err },
    );
  }
}

export const enc = encodeURIComponent;
