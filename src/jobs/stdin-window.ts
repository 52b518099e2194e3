/**
 * Flow control for stdin streamed into a sandbox. The agent channel buffers whatever the host writes,
 * so a client that sends faster than the sandbox takes would grow the host without bound. Bytes
 * count as pending from the moment they are accepted until the agent has read past them, proven by a
 * ping sent behind them (the agent answers in channel order). Past `windowBytes` pending, `write`
 * says "stop" and `onDrain` tells when to go on; the caller pauses its source (the WebSocket) in
 * between, so at most about one window (plus one message) waits on the host.
 */
export interface StdinSink {
  write(bytes: Buffer): void;
  close(): void;
  /** Resolves once the sandbox's agent has read everything written before it. */
  ping(): Promise<unknown>;
}

/** @default 1 MiB */
export const STDIN_WINDOW_BYTES = 1024 * 1024;

export class StdinWindow {
  readonly #windowBytes: number;
  readonly #onDrain: () => void;
  /** What arrived before the program started, in order (`close` included). */
  readonly #early: Array<Buffer | 'close'> = [];
  #sink: StdinSink | undefined;
  #pending = 0;
  #unacked = 0;
  #pinging = false;
  #ended = false;

  constructor(onDrain: () => void, windowBytes = STDIN_WINDOW_BYTES) {
    this.#onDrain = onDrain;
    this.#windowBytes = windowBytes;
  }

  get pendingBytes(): number {
    return this.#pending;
  }

  /** Accepts bytes; false means the window is full: stop sending until `onDrain`. */
  write(bytes: Buffer): boolean {
    if (this.#ended || bytes.length === 0) return this.#pending < this.#windowBytes;
    this.#pending += bytes.length;
    if (this.#sink) this.#send(bytes);
    else this.#early.push(bytes);
    return this.#pending < this.#windowBytes;
  }

  close(): void {
    if (this.#sink) this.#sink.close();
    else this.#early.push('close');
  }

  /** The program started: what arrived early goes to it, in order. */
  attach(sink: StdinSink): void {
    this.#sink = sink;
    for (const p of this.#early.splice(0)) {
      if (p === 'close') sink.close();
      else this.#send(p);
    }
  }

  /** The program ended: nothing more is pending, and nothing waits. */
  end(): void {
    const wasFull = this.#pending >= this.#windowBytes;
    this.#ended = true;
    this.#pending = 0;
    this.#early.length = 0;
    if (wasFull) this.#onDrain();
  }

  #send(bytes: Buffer): void {
    (this.#sink as StdinSink).write(bytes);
    this.#unacked += bytes.length;
    this.#ack();
  }

  /** One ping in flight at a time, behind the bytes it acknowledges. */
  #ack(): void {
    if (this.#pinging || this.#unacked === 0 || !this.#sink) return;
    const covered = this.#unacked;
    this.#unacked = 0;
    this.#pinging = true;
    this.#sink.ping().then(
      () => {
        this.#pinging = false;
        if (this.#ended) return;
        const wasFull = this.#pending >= this.#windowBytes;
        this.#pending -= covered;
        if (wasFull && this.#pending < this.#windowBytes) this.#onDrain();
        this.#ack();
      },
      () => {
        // Not answered in time (or the sandbox is gone): those bytes stay pending; ask again.
        this.#pinging = false;
        this.#unacked += covered;
        if (!this.#ended) setTimeout(() => this.#ack(), 100).unref();
      },
    );
  }
}
