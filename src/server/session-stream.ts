import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutputHandlers } from '../api/sessions-api.js';
import { toApiError } from './errors.js';
import { SSE_HEADERS } from './sse.js';

/** Output a reader may fall behind by before it is cut (the command or code run is stopped too). */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

export function wantsEventStream(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/event-stream');
}

/**
 * Answers a run as server-sent events: what `run` sends as it goes (`send(event, data)`), then
 * `result` with what it returns, or `error` {code, message, hint}. A reader that goes away or falls
 * more than MAX_PENDING_BYTES behind aborts the run through `signal`.
 */
export async function streamEvents<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  run: (send: (event: string, data: unknown) => void, signal: AbortSignal) => Promise<T>,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, SSE_HEADERS);
  const ctrl = new AbortController();
  const onClose = () => ctrl.abort();
  req.raw.socket.once('close', onClose);
  const send = (event: string, data: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (res.writableLength > MAX_PENDING_BYTES) {
      ctrl.abort();
      res.destroy();
    }
  };
  try {
    send('result', await run(send, ctrl.signal));
  } catch (err) {
    send('error', { error: toApiError(err).toJSON() });
  } finally {
    req.raw.socket.off('close', onClose);
    if (!res.writableEnded) res.end();
  }
}

/**
 * Answers a command or code run as server-sent events: `stdout` {data} and `stderr` {data} as the
 * output comes, then `result` with the whole result, or `error` {code, message, hint}. A reader that
 * goes away or stops reading aborts the run.
 */
export function streamRun<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  run: (handlers: OutputHandlers) => Promise<T>,
): Promise<void> {
  return streamEvents(req, reply, (send, signal) =>
    run({
      onStdout: (data) => send('stdout', { data }),
      onStderr: (data) => send('stderr', { data }),
      signal,
    }),
  );
}
