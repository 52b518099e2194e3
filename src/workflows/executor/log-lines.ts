/**
 * A step's output cut into lines for the live callback, and the newest bytes of it kept for the result.
 */
import type { LogStream } from './types.js';

const MAX_LINE_CHARS = 64 * 1024;

export class StepLog {
  readonly #partial: Record<LogStream, string> = { stdout: '', stderr: '' };
  readonly #maxBytes: number;
  readonly #onLine: (stream: LogStream, line: string) => void;
  readonly #mask: (line: string) => string;
  readonly #onRaw: ((line: string) => void) | undefined;
  #kept = '';

  /**
   * `onRaw` reads each line as printed (the workflow commands, `::add-mask::` among them), before
   * `mask` hides secrets from the line that `onLine` gets and the log keeps.
   */
  constructor(
    maxBytes: number,
    onLine: (stream: LogStream, line: string) => void,
    opts: { mask?: (line: string) => string; onRaw?: (line: string) => void } = {},
  ) {
    this.#maxBytes = maxBytes;
    this.#onLine = onLine;
    this.#mask = opts.mask ?? ((line) => line);
    this.#onRaw = opts.onRaw;
  }

  write(stream: LogStream, chunk: Buffer): void {
    const text = this.#partial[stream] + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#partial[stream] = (lines.pop() ?? '').slice(-MAX_LINE_CHARS);
    for (const line of lines) this.#emit(stream, line);
  }

  /** A line from the executor itself (why a step failed). */
  note(line: string): void {
    this.#emit('stderr', line);
  }

  /** Emits what is left without a newline; returns the kept text. */
  end(): string {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.#partial[stream] !== '') this.#emit(stream, this.#partial[stream]);
      this.#partial[stream] = '';
    }
    return this.kept;
  }

  #emit(stream: LogStream, raw: string): void {
    const cut = raw.length > MAX_LINE_CHARS ? raw.slice(0, MAX_LINE_CHARS) : raw;
    try {
      this.#onRaw?.(cut);
    } catch {
      // A listener must not fail the step it watches.
    }
    const line = this.#mask(cut);
    try {
      this.#onLine(stream, line);
    } catch {
      // Nor may the one that shows its lines.
    }
    this.#kept += `${line}\n`;
    if (this.#kept.length > this.#maxBytes * 2) this.#kept = this.#kept.slice(-this.#maxBytes);
  }

  get kept(): string {
    return this.#kept.length > this.#maxBytes ? this.#kept.slice(-this.#maxBytes) : this.#kept;
  }
}
