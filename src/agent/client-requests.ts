/**
 * The host's table of requests waiting for the guest's `result`: their timeouts, file-read content,
 * and the check of each answer. Every method that takes guest input throws an AGENT_PROTOCOL
 * HearthError for an answer no request is waiting for or one of the wrong shape.
 */
import type { ErrorCode } from '../errors/codes.js';
import { HearthError, isErrorCode } from '../errors/hearth-error.js';
import { checkResultValue, protocolError } from './guest-messages.js';
import type { GuestMessage, ResultValues, WireError } from './protocol.js';

/** Request ids that timed out and are remembered, so that a late answer is dropped, not fatal. */
const MAX_RETIRED_IDS = 1024;

/** file-read content as it arrives: at most `maxBytes` kept, the total counted. */
export interface ReadSink {
  chunks: Buffer[];
  maxBytes: number;
  /** Takes each piece as it comes instead of `chunks` (a streamed read). */
  onChunk?: (bytes: Buffer) => void;
}

/** Output of a request that streams it (repl-run) on its channel before its result. */
export type OutputHandler = (stream: 'stdout' | 'stderr', bytes: Buffer) => void;

interface Pending {
  kind: keyof ResultValues;
  output?: OutputHandler;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  read?: ReadSink & { received: number };
}

type ResultMessage = Extract<GuestMessage, { type: 'result' }>;

export class RequestTable {
  readonly #pending = new Map<number, Pending>();
  /** Ids whose request timed out, oldest first. */
  readonly #retired = new Set<number>();

  /** Waits for the result of request `id`; AGENT_TIMEOUT after `timeoutMs`. */
  add<K extends keyof ResultValues>(
    id: number,
    kind: K,
    timeoutMs: number,
    read?: ReadSink,
    output?: OutputHandler,
  ): Promise<ResultValues[K]> {
    return new Promise<ResultValues[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#retire(id);
        reject(new HearthError('AGENT_TIMEOUT', `the agent did not answer ${kind} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        kind,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
        ...(read ? { read: { ...read, received: 0 } } : {}),
        ...(output ? { output } : {}),
      });
    });
  }

  /** Whether request `id` still waits for its result. */
  has(id: number): boolean {
    return this.#pending.has(id);
  }

  /** A Data frame of file content on `channel`. */
  onFileData(channel: number, bytes: Buffer): void {
    const read = this.#pending.get(channel)?.read;
    if (read) {
      read.received += bytes.length;
      // Past the limit the content is dropped as it comes; the result is then refused.
      if (read.received > read.maxBytes) read.chunks.length = 0;
      else if (read.onChunk) read.onChunk(bytes);
      else read.chunks.push(bytes);
      return;
    }
    if (this.#retired.has(channel)) return;
    throw protocolError(`file data on channel ${channel}, which is no file being read`);
  }

  /**
   * Output on `channel` for a request that streams it; false when no such request is waiting (a
   * timed-out one's late output is dropped and counts as taken).
   */
  onOutput(channel: number, stream: 'stdout' | 'stderr', bytes: Buffer): boolean {
    const output = this.#pending.get(channel)?.output;
    if (output) output(stream, bytes);
    return output !== undefined || this.#retired.has(channel);
  }

  /**
   * A `result` from the guest. `dropUnknown`: an answer no request is waiting for is dropped, not
   * refused (before `hello`, see AgentClient).
   */
  onResult(msg: ResultMessage, dropUnknown = false): void {
    const pending = this.#pending.get(msg.id);
    if (!pending) {
      if (this.#retired.delete(msg.id) || dropUnknown) return;
      throw protocolError(`a result for ${msg.id}, which is no pending request`);
    }
    // Checked while still pending, so that a bad answer rejects this call too.
    const value = msg.ok ? checkResultValue(pending.kind, msg.value) : undefined;
    const read = pending.read;
    const tooLarge = read !== undefined && read.received > read.maxBytes;
    if (msg.ok && read && !tooLarge) {
      const size = (value as { size: number }).size;
      if (size !== read.received)
        throw protocolError(`a file-read result of ${size} bytes after ${read.received} bytes of data`);
    }
    this.#pending.delete(msg.id);
    clearTimeout(pending.timer);
    if (tooLarge)
      pending.reject(new HearthError('FILE_TOO_LARGE', `the file is larger than ${read.maxBytes} bytes`));
    else if (msg.ok) pending.resolve(value);
    else pending.reject(guestError(msg.error));
  }

  rejectAll(err: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }

  #retire(id: number): void {
    this.#retired.add(id);
    if (this.#retired.size > MAX_RETIRED_IDS)
      this.#retired.delete(this.#retired.values().next().value as number);
  }
}

/** The codes a guest may report for a failed request; anything else becomes EXEC_FAILED. */
const GUEST_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BAD_REQUEST',
  'EXEC_FAILED',
  'PATH_ESCAPE',
  'FILE_NOT_FOUND',
  'FILE_EXISTS',
  'NOT_A_DIRECTORY',
  'IS_A_DIRECTORY',
  'FILE_TOO_LARGE',
  'AGENT_PROTOCOL',
  'AGENT_UNKNOWN_VERSION',
  'PAYLOAD_TOO_LARGE',
  'REPL_CONTEXT_NOT_FOUND',
  'REPL_CONTEXT_BUSY',
  'REPL_CONTEXT_DEAD',
  'REPL_CONTEXT_LIMIT',
]);

/** A guest's error as the host raises it: only codes a guest may report, the rest EXEC_FAILED. */
export function guestError(e: WireError | undefined): HearthError {
  const code = e?.code;
  return new HearthError(
    isErrorCode(code) && GUEST_CODES.has(code) ? code : 'EXEC_FAILED',
    e?.message ?? 'the agent reported an error',
  );
}
