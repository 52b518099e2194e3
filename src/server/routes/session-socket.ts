import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { ExecHandle } from '../../agent/client.js';
import { CommandSocketMessage } from '../../api/sessions.js';
import { HearthError, toHearthError } from '../../errors/hearth-error.js';
import type { SessionService } from '../../sessions/service.js';
import { WS_CLOSE } from './interactive.js';

const check = TypeCompiler.Compile(CommandSocketMessage);
/** Output waiting for a client that does not read, before the command is killed. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function parse(raw: RawData): CommandSocketMessage {
  const text = (
    Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw)
  ).toString('utf8');
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new HearthError('INVALID_JSON', 'every message must be one JSON object');
  }
  if (!check.Check(msg)) {
    const first = check.Errors(msg).First();
    throw new HearthError(
      'VALIDATION_FAILED',
      `message: ${first ? `${first.path || '/'} ${first.message}` : 'invalid'}`,
      {
        hint: 'Send `start` {cmd | argv, cwd, env, timeoutMs}, then `stdin` {data}, `close-stdin` or `signal` {signal}.',
      },
    );
  }
  return msg;
}

/**
 * GET /v1/sessions/:id/commands/ws: one interactive command per connection. The client sends
 * `start`, then `stdin`, `close-stdin` and `signal`; the server sends `started` {id}, `stdout` and
 * `stderr` {data}, then `result` (the command's result) or `error` {code, message, hint}, and closes.
 * A client that stops reading its output is cut (1013) and the command killed.
 */
export function sessionSocketRoute(app: FastifyInstance, sessions: SessionService): void {
  app.route<{ Params: { id: string } }>({
    method: 'GET',
    url: '/v1/sessions/:id/commands/ws',
    schema: { hide: true },
    handler: async () => {
      throw new HearthError('BAD_REQUEST', 'this route speaks WebSocket only', {
        hint: 'Connect with a WebSocket client and send a `start` message first.',
      });
    },
    wsHandler: (socket: WebSocket, req) => {
      let handle: ExecHandle | undefined;
      let starting = false;
      let closed = false;
      const send = (msg: object) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify(msg));
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          void handle?.kill('SIGKILL');
          finish(WS_CLOSE.slowConsumer, 'SLOW_CONSUMER: output was not read');
        }
      };
      const finish = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        socket.close(code, reason.slice(0, 120));
        setTimeout(() => socket.terminate(), 2000).unref();
      };
      const fail = (err: unknown, fromMessage: boolean) => {
        const e = toHearthError(err);
        send({ type: 'error', error: e.toJSON() });
        finish(e.status >= 500 ? WS_CLOSE.internal : fromMessage ? WS_CLOSE.protocol : WS_CLOSE.done, e.code);
      };
      socket.on('message', (raw) => {
        if (closed) return;
        try {
          const msg = parse(raw);
          if (msg.type === 'start') {
            if (starting) throw new HearthError('VALIDATION_FAILED', '`start` was already sent');
            starting = true;
            const { type: _t, ...request } = msg;
            sessions
              .startInteractive(req.params.id, request, {
                onStdout: (data) => send({ type: 'stdout', data }),
                onStderr: (data) => send({ type: 'stderr', data }),
              })
              .then((started) => {
                handle = started.handle;
                if (closed) void handle.kill('SIGKILL');
                send({ type: 'started', id: started.id });
                return started.done;
              })
              .then((result) => {
                send({ type: 'result', result });
                finish(WS_CLOSE.done, 'exit');
              })
              .catch((err: unknown) => fail(err, false));
            return;
          }
          if (!handle)
            throw new HearthError('VALIDATION_FAILED', 'send `start` first and wait for `started`');
          if (msg.type === 'stdin') handle.writeStdin(msg.data);
          else if (msg.type === 'close-stdin') handle.closeStdin();
          else void handle.kill(msg.signal).catch((err: unknown) => fail(err, false));
        } catch (err) {
          fail(err, true);
        }
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        closed = true;
        void handle?.kill('SIGKILL').catch(() => {});
      });
    },
  });
}
