import type { FastifyInstance } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { HearthError, toHearthError } from '../../errors/hearth-error.js';
import type { InteractiveJob } from '../../jobs/interactive.js';
import type { JobService } from '../../jobs/service.js';
import { parseClientMessage } from '../validate.js';

/**
 * Close codes of GET /v1/jobs/interactive (docs/api.md lists them); the reason is an error code.
 * 1009 (a message over the size limit) comes from ws itself.
 */
export const WS_CLOSE = {
  /** The job ended: after `exit`, or `error` (a 4xx code) when it could not run. */
  done: 1000,
  /** The server is shutting down. */
  goingAway: 1001,
  /** A message was not JSON, failed the schema, or came out of order (an `error` message says which). */
  protocol: 1008,
  /** hearth or the sandbox failed (an `error` with a 5xx code). */
  internal: 1011,
  /** The client did not read: more than {@link MAX_BUFFERED_BYTES} waited to be sent. */
  slowConsumer: 1013,
} as const;

/** Output waiting in the server for a client that does not read (the kernel holds more), before the job is stopped. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** A peer that does not read never completes the closing handshake: cut it after this. */
const CLOSE_GRACE_MS = 2000;

function bytesOf(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  return Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
}

/** A message the client sent was refused (`protocol`), or the job could not run or failed (`done`). */
function closeCodeOf(e: HearthError, fromMessage: boolean): number {
  if (e.code === 'SHUTTING_DOWN') return WS_CLOSE.goingAway;
  if (e.status >= 500) return WS_CLOSE.internal;
  return fromMessage ? WS_CLOSE.protocol : WS_CLOSE.done;
}

/**
 * GET /v1/jobs/interactive (WebSocket): `init` {…job fields}, then `stdin` {data}, `signal` {signal},
 * `close-stdin`; the server sends `runtime`, `stage`, `output` {stage, stream, data}, `exit` {…result},
 * or `error` {code, message, hint}, then closes. Every message goes through the schema; stdin is
 * flow-controlled (the socket is paused while the sandbox has not taken a window of it), and a client
 * that does not read its output is disconnected (1013), so neither direction grows the server.
 */
export function interactiveRoute(app: FastifyInstance, service: JobService): void {
  app.route({
    method: 'GET',
    url: '/v1/jobs/interactive',
    schema: { hide: true },
    handler: async () => {
      throw new HearthError('BAD_REQUEST', 'this route speaks WebSocket only', {
        hint: 'Connect with a WebSocket client (Upgrade: websocket) and send an `init` message first.',
      });
    },
    wsHandler: (socket: WebSocket) => {
      let job: InteractiveJob | undefined;
      let closing = false;
      const closeWith = (code: number, reason: string) => {
        if (closing) return;
        closing = true;
        // Read again (stdin may have paused the socket), so the closing handshake can complete.
        socket.resume();
        socket.close(code, reason.slice(0, 120));
        setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
      };
      const send = (msg: object) => {
        if (socket.readyState === socket.OPEN && !closing) socket.send(JSON.stringify(msg));
      };
      /** Output and progress: past the buffer cap the client is not reading, and the job stops. */
      const stream = (msg: object) => {
        send(msg);
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          closeWith(WS_CLOSE.slowConsumer, 'SLOW_CONSUMER: output was not read');
        }
      };
      const fail = (err: unknown, fromMessage = false) => {
        const e = toHearthError(err);
        send({ type: 'error', ...e.toJSON() });
        closeWith(closeCodeOf(e, fromMessage), e.code);
      };
      const onMessage = (raw: RawData) => {
        const msg = parseClientMessage(bytesOf(raw));
        if (msg.type === 'init') {
          if (job) throw new HearthError('VALIDATION_FAILED', 'init was already sent');
          const opened = service.openInteractive(msg.request, {
            onRuntime: (info) => stream({ type: 'runtime', ...info }),
            onStage: (stage) => stream({ type: 'stage', stage }),
            onOutput: (stage, s, data) => stream({ type: 'output', stage, stream: s, data }),
            onStdinDrain: () => socket.resume(),
          });
          job = opened;
          opened.result.then((result) => {
            send({ type: 'exit', ...result });
            closeWith(WS_CLOSE.done, 'exit');
          }, fail);
          return;
        }
        if (!job) throw new HearthError('VALIDATION_FAILED', 'send `init` first');
        if (msg.type === 'stdin') {
          if (!job.writeStdin(msg.data)) socket.pause();
        } else if (msg.type === 'close-stdin') job.closeStdin();
        else job.signal(msg.signal).catch(fail);
      };
      socket.on('message', (raw) => {
        if (closing) return;
        try {
          onMessage(raw);
        } catch (err) {
          fail(err, true);
        }
      });
      // ws reports a broken frame or an oversized message here, then closes (1002, 1009).
      socket.on('error', () => {});
      socket.on('close', () => void job?.close());
    },
  });
}
