import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { HearthError, toHearthError } from '../../errors/hearth-error.js';
import type { InteractiveJob } from '../../jobs/interactive.js';
import type { JobService } from '../../jobs/service.js';
import type { JobRequest } from '../../jobs/types.js';

type ClientMessage =
  | ({ type: 'init' } & JobRequest)
  | { type: 'stdin'; data: string }
  | { type: 'signal'; signal: string }
  | { type: 'close-stdin' };

function parse(raw: unknown): ClientMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(String(raw));
  } catch {
    throw new HearthError('INVALID_JSON', 'every message must be one JSON object');
  }
  if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') {
    throw new HearthError('VALIDATION_FAILED', 'a message needs a string `type`');
  }
  return msg as ClientMessage;
}

/**
 * GET /v1/jobs/interactive (WebSocket): `init` {…job fields}, then `stdin` {data}, `signal` {signal},
 * `close-stdin`; the server sends `runtime`, `stage`, `output` {stage, stream, data}, `exit` {…result},
 * or `error` {code, message, hint}, then closes.
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
      const send = (msg: object) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
      };
      const fail = (err: unknown) => {
        const e = toHearthError(err);
        send({ type: 'error', ...e.toJSON() });
        socket.close(1000);
      };
      socket.on('message', (raw) => {
        try {
          const msg = parse(raw);
          if (msg.type === 'init') {
            if (job) throw new HearthError('VALIDATION_FAILED', 'init was already sent');
            const { type: _t, ...request } = msg;
            job = service.openInteractive(request, {
              onRuntime: (info) => send({ type: 'runtime', ...info }),
              onStage: (stage) => send({ type: 'stage', stage }),
              onOutput: (stage, stream, data) => send({ type: 'output', stage, stream, data }),
            });
            job.result.then((result) => {
              send({ type: 'exit', ...result });
              socket.close(1000);
            }, fail);
            return;
          }
          if (!job) throw new HearthError('VALIDATION_FAILED', 'send `init` first');
          if (msg.type === 'stdin') {
            if (typeof msg.data !== 'string')
              throw new HearthError('VALIDATION_FAILED', '`data` must be a string');
            job.writeStdin(msg.data);
          } else if (msg.type === 'close-stdin') job.closeStdin();
          else if (msg.type === 'signal') job.signal(String(msg.signal)).catch(fail);
          else
            throw new HearthError(
              'VALIDATION_FAILED',
              `unknown message type "${(msg as { type: string }).type}"`,
            );
        } catch (err) {
          fail(err);
        }
      });
      socket.on('close', () => void job?.close());
    },
  });
}
