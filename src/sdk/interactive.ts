import WebSocket from 'ws';
import type { CommandRequest, CommandResult } from '../api/sessions.js';
import { apiError, errorFromEvent } from './errors.js';
import type { HttpCore } from './http.js';

export interface InteractiveOptions {
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
}

/** The largest message the server may send us: output comes in pieces far smaller. @default 16 MiB */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

type Message = { type?: string; data?: unknown; id?: unknown; result?: CommandResult } & Record<
  string,
  unknown
>;

/**
 * A command with a live stdin and signals, over `GET /v1/sessions/:id/commands/ws`: `sendStdin`,
 * `closeStdin`, `kill`, and `wait()` for its result. The server closes the socket once the result
 * is sent; a socket that closes before it fails `wait()`.
 */
export class InteractiveCommand {
  /** The command's id (as in `commands.list()`). */
  readonly id: string;
  readonly #ws: WebSocket;
  readonly #result: Promise<CommandResult>;

  private constructor(ws: WebSocket, id: string, result: Promise<CommandResult>) {
    this.#ws = ws;
    this.id = id;
    this.#result = result;
  }

  /** Opens the socket, starts the command and resolves once the server says it started. */
  static open(http: HttpCore, sessionId: string, req: CommandRequest, o: InteractiveOptions = {}) {
    const url = `${http.baseUrl.replace(/^http/, 'ws')}/v1/sessions/${encodeURIComponent(sessionId)}/commands/ws`;
    const ws = new WebSocket(url, { headers: http.authHeaders(), maxPayload: MAX_MESSAGE_BYTES });
    return new Promise<InteractiveCommand>((resolveStart, rejectStart) => {
      let started = false;
      let settled = false;
      let resolveResult: (r: CommandResult) => void = () => {};
      let rejectResult: (e: Error) => void = () => {};
      const result = new Promise<CommandResult>((resolve, reject) => {
        resolveResult = resolve;
        rejectResult = reject;
      });
      // A caller that never waits must not see an unhandled rejection.
      result.catch(() => {});
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        if (started) rejectResult(e);
        else rejectStart(e);
        ws.terminate();
      };
      ws.once('open', () => ws.send(JSON.stringify({ type: 'start', ...req })));
      ws.on('message', (raw) => {
        let m: Message;
        try {
          m = JSON.parse(String(raw)) as Message;
        } catch {
          return fail(
            apiError(502, { code: 'AGENT_PROTOCOL', message: 'a message from the server is not JSON' }),
          );
        }
        if (m.type === 'stdout' && typeof m.data === 'string') o.onStdout?.(m.data);
        else if (m.type === 'stderr' && typeof m.data === 'string') o.onStderr?.(m.data);
        else if (m.type === 'started' && !started) {
          started = true;
          resolveStart(new InteractiveCommand(ws, String(m.id ?? ''), result));
        } else if (m.type === 'result' && m.result && started && !settled) {
          settled = true;
          resolveResult(m.result);
        } else if (m.type === 'error') fail(errorFromEvent(m));
      });
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          if (text.length < 65_536) text += c;
        });
        res.on('end', () => {
          let body: Record<string, unknown> = { message: `HTTP ${res.statusCode}` };
          try {
            body = (JSON.parse(text) as { error?: Record<string, unknown> }).error ?? body;
          } catch {}
          fail(apiError(res.statusCode ?? 500, body));
        });
      });
      ws.on('error', (err) => fail(err));
      ws.on('close', (code, reason) => {
        const why = reason.toString() || `code ${code}`;
        fail(
          apiError(502, { code: 'SANDBOX_LOST', message: `the socket closed before the result (${why})` }),
        );
      });
    });
  }

  sendStdin(data: string): void {
    this.#ws.send(JSON.stringify({ type: 'stdin', data }));
  }

  closeStdin(): void {
    this.#ws.send(JSON.stringify({ type: 'close-stdin' }));
  }

  /** @default 'SIGKILL' */
  kill(signal = 'SIGKILL'): void {
    this.#ws.send(JSON.stringify({ type: 'signal', signal }));
  }

  /** Its result once it exits (whatever the exit code). */
  wait(): Promise<CommandResult> {
    return this.#result;
  }
}
