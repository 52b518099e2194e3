import type { ServerResponse } from 'node:http';
import type { JobEvent } from '../jobs/events.js';
import type { Job } from '../jobs/types.js';

/** The response head of every server-sent event stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/** Bounds of one event stream. */
export interface SseLimits {
  /**
   * Output bytes a subscriber may fall behind before it is dropped. Queued events are the bus's own
   * objects, shared by every subscriber, so many slow subscribers cost little more than one.
   * @default 8 MiB (more than the replay a late subscriber gets at once)
   */
  maxPendingBytes: number;
  /** Bytes handed to the socket at a time; the rest waits for 'drain'. @default 64 KiB */
  socketHighWaterBytes: number;
  /** A subscriber whose socket took nothing for this long, with data waiting, is dropped. @default 60000 */
  stallMs: number;
}

const DEFAULTS: SseLimits = {
  maxPendingBytes: 8 * 1024 * 1024,
  socketHighWaterBytes: 64 * 1024,
  stallMs: 60_000,
};

/**
 * The serialised `result` of a job, once per job object: every subscriber of a job gets the same
 * finished job, and writing one shared Buffer to many sockets does not copy it per socket (a job's
 * output can be megabytes).
 */
const resultFrames = new WeakMap<Job, Buffer>();

function frame(e: JobEvent): Buffer | string {
  if (e.type === 'result') {
    let b = resultFrames.get(e.job);
    if (!b) {
      b = Buffer.from(`event: result\ndata: ${JSON.stringify(e.job)}\n\n`);
      resultFrames.set(e.job, b);
    }
    return b;
  }
  const { type, ...data } = e;
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

const sizeOf = (e: JobEvent): number => (e.type === 'output' ? e.data.length : 64);

/**
 * One subscriber's event stream with backpressure: events wait in a queue (by reference) and go to
 * the socket only while it drains. A subscriber that does not read — its queue past
 * `maxPendingBytes`, or its socket stalled for `stallMs` — is disconnected; the job goes on and its
 * result stays at GET /v1/jobs/:id.
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #limits: SseLimits;
  readonly #queue: JobEvent[] = [];
  #pendingBytes = 0;
  #ending = false;
  #closed = false;
  #stallTimer: NodeJS.Timeout | undefined;
  readonly #onClose: () => void;

  constructor(res: ServerResponse, onClose: () => void, limits: Partial<SseLimits> = {}) {
    this.#res = res;
    this.#limits = { ...DEFAULTS, ...limits };
    this.#onClose = onClose;
    res.on('drain', () => {
      // The socket took data: the subscriber reads, so its stall clock starts again.
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
      this.#pump();
    });
    res.once('close', () => this.#close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues an event; a `result` ends the stream once it is written. */
  push(e: JobEvent): void {
    if (this.#closed || this.#ending) return;
    if (e.type === 'result') this.#ending = true;
    this.#queue.push(e);
    this.#pendingBytes += sizeOf(e);
    if (this.#pendingBytes > this.#limits.maxPendingBytes) this.drop();
    else this.#pump();
  }

  /** Disconnects at once, whatever is queued. */
  drop(): void {
    this.#res.destroy();
    this.#close();
  }

  #pump(): void {
    if (this.#closed) return;
    const res = this.#res;
    while (this.#queue.length && res.writableLength < this.#limits.socketHighWaterBytes) {
      const e = this.#queue.shift() as JobEvent;
      this.#pendingBytes -= sizeOf(e);
      res.write(frame(e));
      if (e.type === 'result') res.end();
    }
    this.#watchStall();
  }

  /** Data is waiting for a socket that does not drain: give it `stallMs`, then let it go. */
  #watchStall(): void {
    if (this.#closed || this.#stallTimer || this.#res.writableLength === 0) return;
    const sent = this.#res.socket?.bytesWritten ?? 0;
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      const moved = (this.#res.socket?.bytesWritten ?? 0) !== sent;
      if (!moved && this.#res.writableLength > 0) this.drop();
      else this.#watchStall();
    }, this.#limits.stallMs);
    this.#stallTimer.unref();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#stallTimer);
    this.#queue.length = 0;
    this.#onClose();
  }
}
