import { Code, ConnectError } from '@connectrpc/connect';
import type { ProcessEvent_EndEvent } from '../../../e2b/gen/process_pb.js';

/** What a stream of `ProcessEvent`s carries, before it is wrapped in a Start or Connect response. */
export type ProcessEventInit =
  | { case: 'start'; value: { pid: number } }
  | { case: 'data'; value: { output: { case: 'stdout' | 'stderr'; value: Uint8Array } } }
  | { case: 'end'; value: Partial<Pick<ProcessEvent_EndEvent, 'exitCode' | 'exited' | 'status' | 'error'>> }
  | { case: 'keepalive'; value: Record<string, never> };

export interface EventQueueOptions {
  /** The call's signal: its deadline, or the client going away. */
  signal: AbortSignal;
  /** After this long without an event a `keepalive` is sent; none when undefined. */
  keepaliveMs?: number | undefined;
}

/**
 * The events of one process stream, between the command's output callbacks (which cannot wait)
 * and the client's reads. What waits here is bounded by the command's own output cap. Once the
 * stream is over (the client went, the deadline passed) pushes are dropped, and the process goes
 * on: it outlives its stream.
 */
export class EventQueue {
  readonly #items: ProcessEventInit[] = [];
  #ended: { error?: unknown } | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(private readonly o: EventQueueOptions) {}

  push(event: ProcessEventInit): void {
    if (this.#closed || this.#ended) return;
    this.#items.push(event);
    this.#wake?.();
  }

  /** No more events; the stream ends after those queued, with `error` when given. */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = error === undefined ? {} : { error };
    this.#wake?.();
  }

  /** The events as the client reads them; throws the end's error, or the signal's reason. */
  async *drain(): AsyncGenerator<ProcessEventInit> {
    const { signal, keepaliveMs } = this.o;
    const onAbort = () => this.#wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (signal.aborted) throw reasonOf(signal);
        const next = this.#items.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#ended) {
          if ('error' in this.#ended) throw this.#ended.error;
          return;
        }
        if (await this.#idle(keepaliveMs)) yield { case: 'keepalive', value: {} };
      }
    } finally {
      this.#closed = true;
      this.#items.length = 0;
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Waits for an event or the end; true when `keepaliveMs` passed first. */
  #idle(keepaliveMs: number | undefined): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = keepaliveMs === undefined ? undefined : setTimeout(() => resolve(true), keepaliveMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(false);
      };
    }).finally(() => {
      this.#wake = undefined;
    });
  }
}

function reasonOf(signal: AbortSignal): ConnectError {
  const r: unknown = signal.reason;
  return r instanceof ConnectError ? r : new ConnectError('the call was cancelled', Code.Canceled);
}

/** Go's names for signals, which envd's `status` and `error` use (`signal: killed`). */
const SIGNAL_TEXT: Record<string, string> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGQUIT: 'quit',
  SIGABRT: 'aborted',
  SIGSEGV: 'segmentation fault',
  SIGBUS: 'bus error',
  SIGFPE: 'floating point exception',
  SIGILL: 'illegal instruction',
  SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock',
  SIGXCPU: 'CPU time limit exceeded',
  SIGXFSZ: 'file size limit exceeded',
  SIGUSR1: 'user defined signal 1',
  SIGUSR2: 'user defined signal 2',
};

/**
 * How a command ended, as envd's `end` event says it: `exit status N`, or for a signal exit code
 * -1, `exited: false` and `signal: killed`. `error` is set whenever the exit is not 0, as envd does
 * (it is the message of the SDK's CommandExitError).
 */
export function endEvent(r: {
  exitCode: number | null;
  signal: string | null;
  outOfMemory: boolean;
}): ProcessEventInit {
  const signalled = r.signal !== null || r.exitCode === null;
  const status = signalled
    ? `signal: ${SIGNAL_TEXT[r.signal ?? ''] ?? (r.signal ?? 'unknown').toLowerCase()}`
    : `exit status ${r.exitCode}`;
  const exitCode = signalled ? -1 : (r.exitCode as number);
  const error = r.outOfMemory ? `${status} (out of memory)` : exitCode !== 0 ? status : undefined;
  return {
    case: 'end',
    value: { exitCode, exited: !signalled, status, ...(error ? { error } : {}) },
  };
}

/** A command hearth killed at its deadline ends its stream so; the SDK reports its TimeoutError. */
export function deadlineError(): ConnectError {
  return new ConnectError('the command ran past its deadline and was killed', Code.DeadlineExceeded);
}
