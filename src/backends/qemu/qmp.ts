import { connect, type Socket } from 'node:net';
import { HearthError } from '../../errors/hearth-error.js';

/**
 * A client for QEMU's QMP (JSON lines over a unix socket): greeting, `qmp_capabilities`, then
 * commands answered in order, with asynchronous events in between.
 */
export class QmpClient {
  readonly #socket: Socket;
  #buffer = '';
  #pending: { resolve(v: unknown): void; reject(e: Error): void; command: string }[] = [];
  #closed = false;
  #events: ((event: { event: string; data?: unknown }) => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', () => this.#fail());
    socket.on('close', () => this.#fail());
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(opts: { path: string; timeoutMs?: number }): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const socket = connect(opts.path);
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await greeting;
    } catch (err) {
      socket.destroy();
      throw new HearthError('SANDBOX_START_FAILED', `QMP ${opts.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const client = new QmpClient(socket);
    await client.execute('qmp_capabilities');
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Listens to QMP events (e.g. `MIGRATION`, `STOP`, `SHUTDOWN`). */
  onEvent(listener: (event: { event: string; data?: unknown }) => void): void {
    this.#events.push(listener);
  }

  /** Runs one command and returns its `return` value; a QMP `error` rejects with its description. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed) return Promise.reject(new HearthError('SANDBOX_LOST', `QMP closed before ${command}`));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ resolve: resolve as (v: unknown) => void, reject, command });
      this.#socket.write(
        `${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`,
      );
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (!line) continue;
      let msg: {
        return?: unknown;
        error?: { class: string; desc: string };
        event?: string;
        data?: unknown;
        QMP?: unknown;
      };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.event) {
        for (const l of this.#events) l({ event: msg.event, data: msg.data });
        continue;
      }
      if (msg.QMP) continue;
      const p = this.#pending.shift();
      if (!p) continue;
      if (msg.error) p.reject(new HearthError('SANDBOX_START_FAILED', `QMP ${p.command}: ${msg.error.desc}`));
      else p.resolve(msg.return);
    }
  }

  #fail(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pending.splice(0))
      p.reject(new HearthError('SANDBOX_LOST', `QMP closed during ${p.command}`));
  }

  close(): void {
    this.#fail();
    this.#socket.destroy();
  }
}
