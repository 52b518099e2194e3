/**
 * One `/execute` answer in E2B's NDJSON: a line per event, each written whole as it happens (the
 * SDK parses every line with JSON.parse, so no blank line, and decodes every network chunk on its
 * own, so the lines are ASCII). A client that goes away aborts the run.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CodeResult } from '../../../api/sessions.js';
import type { OutputHandlers } from '../../../api/sessions-api.js';
import { HearthError } from '../../../errors/hearth-error.js';

/** Lines a reader may fall behind by before it is cut and the run interrupted. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

type Value = NonNullable<CodeResult['result']>;

export interface FinishOptions {
  /**
   * Called when the client has been gone `abandonedGraceMs` and the run has not ended (it ignored
   * the interrupt). The answer ends only once what it returns has settled.
   */
  onAbandoned?: () => Promise<unknown>;
  /** @default 5000 */
  abandonedGraceMs?: number;
}

export class NdjsonRun {
  readonly #ctrl = new AbortController();
  readonly #reply: FastifyReply;
  readonly handlers: OutputHandlers;

  constructor(_req: FastifyRequest, reply: FastifyReply) {
    this.#reply = reply;
    const res = reply.raw;
    res.once('close', () => {
      if (!res.writableFinished) this.#ctrl.abort();
    });
    this.handlers = {
      onStdout: (text) => this.send({ type: 'stdout', text }),
      onStderr: (text) => this.send({ type: 'stderr', text }),
      signal: this.#ctrl.signal,
    };
  }

  /** The client went away (or fell too far behind). */
  get gone(): boolean {
    return this.#ctrl.signal.aborted;
  }

  /** Sends the head: from here on, every outcome is a line of the body. */
  start(): void {
    if (this.#reply.sent) return;
    this.#reply.hijack();
    const res = this.#reply.raw;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
  }

  send(line: Record<string, unknown>): void {
    const res = this.#reply.raw;
    if (!this.#reply.sent || res.writableEnded || res.destroyed) return;
    res.write(`${asciiJson(line)}\n`);
    if (res.writableLength > MAX_PENDING_BYTES) {
      this.#ctrl.abort();
      res.destroy();
    }
  }

  close(): void {
    if (!this.#reply.sent) this.#reply.hijack();
    const res = this.#reply.raw;
    if (!res.headersSent && !res.destroyed) res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (!res.writableEnded) res.end();
  }

  /** Runs the code, sends its results and error, then `end_of_execution`, and ends the body. */
  async finish(run: () => Promise<CodeResult>, o: FinishOptions = {}): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let abandoned: Promise<unknown> | undefined;
    const onAbort = () => {
      const { onAbandoned } = o;
      if (onAbandoned)
        timer = setTimeout(() => {
          abandoned = onAbandoned().catch(() => {});
        }, o.abandonedGraceMs ?? 5000);
    };
    this.#ctrl.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await run();
      for (const d of result.displays ?? []) this.send(resultLine(d, false));
      if (result.result) this.send(resultLine(result.result, true));
      if (result.error) this.send({ type: 'error', ...result.error });
    } catch (err) {
      this.send(errorLine(err));
    } finally {
      clearTimeout(timer);
      this.#ctrl.signal.removeEventListener('abort', onAbort);
      // The next run in the context waits for the restart, not only for the killed run.
      await abandoned;
      this.send({ type: 'end_of_execution' });
      this.close();
    }
  }
}

/**
 * JSON with every non-ASCII character escaped: the SDK decodes each network chunk on its own, so a
 * character whose UTF-8 bytes a chunk boundary splits would be garbled; an escape is plain ASCII.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A value as E2B's `result` line: `text/plain` as `text` (one pair of enclosing quotes off). */
export function resultLine(v: Value, isMain: boolean): Record<string, unknown> {
  const f = v.formats;
  const line: Record<string, unknown> = { type: 'result', is_main_result: isMain };
  const text = f['text/plain'] ?? v.text;
  if (text)
    line.text = text.length >= 2 && text.startsWith("'") && text.endsWith("'") ? text.slice(1, -1) : text;
  if (f['text/html']) line.html = f['text/html'];
  if (f['image/png']) line.png = f['image/png'];
  if (f['application/json']) {
    try {
      line.json = JSON.parse(f['application/json']);
    } catch {
      // Not JSON after all: the other formats still stand.
    }
  }
  return line;
}

/** A run that could not happen, as an `error` line: a dead interpreter is one being restarted. */
function errorLine(err: unknown): Record<string, unknown> {
  const e = err instanceof HearthError ? err : undefined;
  const name = e?.code === 'REPL_CONTEXT_DEAD' ? 'ContextRestarting' : (e?.code ?? 'Error');
  const value = err instanceof Error ? err.message : String(err);
  return { type: 'error', name, value, traceback: '' };
}
