/**
 * The host side of one exec: its start, its output handlers, stdin, signals and exit.
 */
import { performance } from 'node:perf_hooks';
import type { ExecExit, ExecLimits } from './protocol.js';

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
  /** The exec passed its host-side deadline: the guest did not enforce its timeout. */
  overdue(channel: number, timeoutMs: number): void;
}

/** The host's own limits for one exec: the guest is trusted to enforce none of them. */
export interface HostExecLimits {
  limits?: ExecLimits | undefined;
  /** Time past `limits.timeoutMs` the guest gets to report a timed-out exec. */
  graceMs: number;
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
  readonly #startedAt = performance.now();
  readonly #maxOutput: number;
  #deadline: NodeJS.Timeout | undefined;
  readonly #restartDeadline: (() => void) | undefined;
  #output = 0;
  #truncated = false;
  #stdinClosed = false;
  #done = false;
  /** The guest answered the exec request (its `result`), so the id may be forgotten after exit. */
  answered = false;

  constructor(
    readonly channel: number,
    readonly handlers: ExecHandlers,
    private readonly wire: ExecWire,
    host: HostExecLimits,
  ) {
    const { maxOutputBytes, timeoutMs } = host.limits ?? {};
    this.#maxOutput = validLimit(maxOutputBytes) ? maxOutputBytes : Number.POSITIVE_INFINITY;
    if (validLimit(timeoutMs) && timeoutMs > 0) {
      // Counted from the request, so an exec that never starts is bounded too; once it has started,
      // counted again from then, so that a slow start does not eat into the program's time.
      this.#restartDeadline = () => {
        clearTimeout(this.#deadline);
        this.#deadline = setTimeout(() => wire.overdue(channel, timeoutMs), timeoutMs + host.graceMs);
        this.#deadline.unref();
      };
      this.#restartDeadline();
    }
  }

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
    if (!this.#done) this.#restartDeadline?.();
    this.#started.resolve({ pid });
  }

  /**
   * Output from the guest, cut at `maxOutputBytes` here whatever the guest did: past it the rest is
   * dropped, the exec marked truncated and killed.
   */
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.#done) return;
    const room = this.#maxOutput - this.#output;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#output += part.length;
    if (part.length > 0) {
      if (stream === 'stdout') this.handlers.onStdout?.(part);
      else this.handlers.onStderr?.(part);
    }
    if (part.length < chunk.length && !this.#truncated) {
      this.#truncated = true;
      this.wire.signal(this.channel, 'SIGKILL').catch(() => {});
    }
  }

  onExit(exit: ExecExit): void {
    this.#finish();
    this.#started.resolve({ pid: -1 });
    this.#exit.resolve({ ...exit, truncated: exit.truncated || this.#truncated });
  }

  /** The host gave up waiting: the exec ends as timed out, with the output received so far. */
  timeOut(): void {
    this.onExit({
      exitCode: null,
      signal: 'SIGKILL',
      timedOut: true,
      truncated: false,
      outOfMemory: false,
      cpuTimeMs: 0,
      wallTimeMs: Math.round(performance.now() - this.#startedAt),
      peakMemoryKb: 0,
    });
  }

  /** It could not start, or the sandbox was lost: both promises reject. */
  fail(err: Error): void {
    this.#finish();
    this.#started.reject(err);
    this.#exit.reject(err);
  }

  #finish(): void {
    this.#done = true;
    clearTimeout(this.#deadline);
  }
}

function validLimit(v: number | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
