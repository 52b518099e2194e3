/**
 * The host side of one exec: its start, its output handlers, stdin, signals and exit.
 */
import type { ExecExit } from './protocol.js';

export interface ExecHandlers {
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
}

export interface ExecHandle {
  /** Resolves when the process has started; rejects when it could not start. */
  readonly started: Promise<{ pid: number }>;
  writeStdin(data: Buffer | string): void;
  closeStdin(): void;
  /** Signals the process; SIGKILL kills its whole tree. @default 'SIGKILL' */
  kill(signal?: string): Promise<void>;
  /** How it ended; rejects when it could not start or the sandbox was lost. */
  readonly exit: Promise<ExecExit>;
}

/** What the client needs to drive one exec. */
export interface ExecWire {
  sendStdin(channel: number, data: Buffer): void;
  closeStdin(channel: number): Promise<unknown>;
  signal(channel: number, signal: string): Promise<unknown>;
}

/** Settles once; later calls are ignored. A rejection nobody awaited is not reported as unhandled. */
function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class PendingExec implements ExecHandle {
  readonly #started = deferred<{ pid: number }>();
  readonly #exit = deferred<ExecExit>();
  #stdinClosed = false;
  #done = false;

  constructor(
    readonly channel: number,
    readonly handlers: ExecHandlers,
    private readonly wire: ExecWire,
  ) {}

  get started(): Promise<{ pid: number }> {
    return this.#started.promise;
  }

  get exit(): Promise<ExecExit> {
    return this.#exit.promise;
  }

  get done(): boolean {
    return this.#done;
  }

  writeStdin(data: Buffer | string): void {
    if (this.#stdinClosed || this.#done) return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (bytes.length > 0) this.wire.sendStdin(this.channel, bytes);
  }

  closeStdin(): void {
    if (this.#stdinClosed || this.#done) return;
    this.#stdinClosed = true;
    this.wire.closeStdin(this.channel).catch(() => {});
  }

  async kill(signal = 'SIGKILL'): Promise<void> {
    if (this.#done) return;
    await this.#started.promise.catch(() => undefined);
    if (this.#done) return;
    await this.wire.signal(this.channel, signal);
  }

  onStarted(pid: number): void {
    this.#started.resolve({ pid });
  }

  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (stream === 'stdout') this.handlers.onStdout?.(chunk);
    else this.handlers.onStderr?.(chunk);
  }

  onExit(exit: ExecExit): void {
    this.#done = true;
    this.#started.resolve({ pid: -1 });
    this.#exit.resolve(exit);
  }

  /** It could not start, or the sandbox was lost: both promises reject. */
  fail(err: Error): void {
    this.#done = true;
    this.#started.reject(err);
    this.#exit.reject(err);
  }
}
