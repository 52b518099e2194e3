import WebSocket from 'ws';
import type { CommandRequest, CommandResult } from '../api/sessions.js';
import { apiError, errorFromEvent, type HearthApiError } from './errors.js';
import type { HttpCore } from './http.js';

export interface InteractiveOptions {
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
}

/** The largest message the server may send us: output comes in pieces far smaller. @default 16 MiB */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * A command with a live stdin and signals, over `GET /v1/sessions/:id/commands/ws`: `sendStdin`,
 * `closeStdin`, `kill`, and `wait()` for its result. The socket closes once the result is in.
 */
export class InteractiveCommand {
  readonly #ws: WebSocket;
  readonly #result: Promise<CommandResult>;
  #settled = false;

  private constructor(ws: WebSocket, req: CommandRequest, o: InteractiveOptions) {
    this.#ws = ws;
    this.#result = new Promise<CommandResult>((resolve, reject) => {
      const fail = (e: HearthApiError | Error) => {
        if (this.#settled) return;
        this.#settled = true;
        reject(e);
        ws.terminate();
      };
      ws.on('message', (raw) => {
        let m: { type?: string; data?: unknown; result?: CommandResult; error?: unknown } & Record<
          string,
          unknown
        >;
        try {
          m = JSON.parse(String(raw));
        } catch {
          return fail(
            apiError(502, { code: 'AGENT_PROTOCOL', message: 'the server sent a message that is not JSON' }),
          );
        }
        if (m.type === 'stdout' && typeof m.data === 'string') o.onStdout?.(m.data);
        else if (m.type === 'stderr' && typeof m.data === 'string') o.onStderr?.(m.data);
        else if (m.type === 'result' && m.result) {
          this.#settled = true;
          resolve(m.result);
          ws.close(1000);
        } else if (m.type === 'error') {
          fail(errorFromEvent(m));
        }
      });
      ws.on('error', (err) => fail(err));
      ws.on('close', (code, reason) => {
        const why = reason.toString() || `socket closed (${code})`;
        fail(
          apiError(502, {
            code: 'SANDBOX_LOST',
            message: `the command's socket closed before its result: ${why}`,
          }),
        );
      });
    });
    // A caller that never waits must not see an unhandled rejection.
    this.#result.catch(() => {});
    ws.send(JSON.stringify({ type: 'start', ...req }));
  }

  /** Opens the socket and starts the command. */
  static open(http: HttpCore, sessionId: string, req: CommandRequest, o: InteractiveOptions = {}) {
    const url = `${http.baseUrl.replace(/^http/, 'ws')}/v1/sessions/${encodeURIComponent(sessionId)}/commands/ws`;
    const ws = new WebSocket(url, { headers: http.authHeaders(), maxPayload: MAX_MESSAGE_BYTES });
    return new Promise<InteractiveCommand>((resolve, reject) => {
      ws.once('open', () => resolve(new InteractiveCommand(ws, req, o)));
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => {
          try {
            const body = JSON.parse(text) as { error?: Record<string, unknown> };
            reject(apiError(res.statusCode ?? 500, body.error ?? {}));
          } catch {
            reject(apiError(res.statusCode ?? 500, { message: `HTTP ${res.statusCode}` }));
          }
        });
      });
      ws.once('error', reject);
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
