/**
 * The host's typed client of a guest agent, over any pair of byte streams.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { HearthError, isErrorCode } from '../errors/hearth-error.js';
import { type ExecHandle, type ExecHandlers, PendingExec } from './client-exec.js';
import { encodeData, encodeJson, FrameDecoder } from './framing.js';
import {
  type ExecExit,
  type ExecRequest,
  type FileStat,
  FrameKind,
  type GuestMessage,
  type HelloInfo,
  type HostMessage,
  type ResultValues,
  Stream,
  SUPPORTED_PROTOCOL_VERSIONS,
  type WireError,
} from './protocol.js';

export type { ExecHandle, ExecHandlers } from './client-exec.js';

export interface AgentConnectOptions {
  /** Bytes from the agent. */
  readable: NodeJS.ReadableStream;
  /** Bytes to the agent. */
  writable: NodeJS.WritableStream;
  /** How long the agent may take to answer `hello`. @default 10_000 */
  helloTimeoutMs?: number;
  /** How long any non-exec request may take. @default 30_000 */
  requestTimeoutMs?: number;
}

export type RunResult = ExecExit & { stdout: Buffer; stderr: Buffer };

/** `run()`'s request: `stdin` is the content fed to the program (then closed); without it, /dev/null. */
export type RunRequest = Omit<ExecRequest, 'stdin'> & { stdin?: Buffer | string };

type HostRequest = HostMessage extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** file-read content, gathered from Data frames. */
  chunks?: Buffer[];
  /** Output of a request that streams it (repl-run) before its result. */
  onOutput?: OutputHandler;
}

export type OutputHandler = (stream: 'stdout' | 'stderr', bytes: Buffer) => void;

export class AgentClient {
  readonly #readable: NodeJS.ReadableStream;
  readonly #writable: NodeJS.WritableStream;
  readonly #requestTimeoutMs: number;
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<number, Pending>();
  readonly #execs = new Map<number, PendingExec>();
  readonly #closeListeners: Array<(err?: Error) => void> = [];
  /**
   * Request ids start at a random point: a VM restored from a snapshot keeps the execs of the
   * connection it was saved with, and a new connection must not reuse their channels.
   */
  #nextId = randomInt(1, 2 ** 30);
  #closed = false;
  #closing: Promise<void> | undefined;
  #info: HelloInfo | undefined;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  readonly #onEnd = (): void => this.#lost(new HearthError('SANDBOX_LOST', 'the agent stream ended'));
  readonly #onError = (err: Error): void =>
    this.#lost(new HearthError('SANDBOX_LOST', `the agent stream failed: ${err.message}`, { cause: err }));

  private constructor(opts: AgentConnectOptions) {
    this.#readable = opts.readable;
    this.#writable = opts.writable;
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#readable.on('data', this.#onData);
    this.#readable.on('end', this.#onEnd);
    this.#readable.on('close', this.#onEnd);
    this.#readable.on('error', this.#onError);
    this.#writable.on('error', this.#onError);
    this.#writable.on('close', this.#onEnd);
  }

  /** Connects and says hello; refuses an agent whose protocol version this host does not speak. */
  static async connect(opts: AgentConnectOptions): Promise<AgentClient> {
    const client = new AgentClient(opts);
    try {
      const info = await client.#request(
        'hello',
        { type: 'hello', protocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS] },
        opts.helloTimeoutMs ?? 10_000,
      );
      if (!SUPPORTED_PROTOCOL_VERSIONS.includes(info.protocolVersion))
        throw new HearthError(
          'AGENT_UNKNOWN_VERSION',
          `agent ${info.agentVersion} speaks protocol ${info.protocolVersion}; this host speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
        );
      client.#info = info;
      return client;
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /** What the agent said in `hello`. */
  get info(): HelloInfo {
    return this.#info as HelloInfo;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts a program; output arrives through the handlers as it is produced. */
  exec(req: ExecRequest, handlers: ExecHandlers = {}): ExecHandle {
    const id = this.#nextId++;
    const exec = new PendingExec(id, handlers, {
      sendStdin: (channel, data) => this.#write(encodeData(channel, Stream.Stdin, data)),
      closeStdin: (channel) => this.#request('close-stdin', { type: 'close-stdin', channel }),
      signal: (channel, signal) => this.#request('signal', { type: 'signal', channel, signal }),
    });
    if (this.#closed) {
      exec.fail(new HearthError('SANDBOX_LOST', 'the agent connection is closed'));
      return exec;
    }
    let frame: Buffer;
    try {
      frame = encodeJson({ type: 'exec', id, ...req });
    } catch (err) {
      exec.fail(tooLarge(err));
      return exec;
    }
    this.#execs.set(id, exec);
    this.#write([frame]);
    return exec;
  }

  /** Runs a program to the end and gathers its output. */
  async run(req: RunRequest, handlers: ExecHandlers = {}): Promise<RunResult> {
    const { stdin, ...rest } = req;
    const request: ExecRequest = { ...rest, stdin: stdin !== undefined ? 'pipe' : 'null' };
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const handle = this.exec(request, {
      onStdout: (c) => {
        stdout.push(c);
        handlers.onStdout?.(c);
      },
      onStderr: (c) => {
        stderr.push(c);
        handlers.onStderr?.(c);
      },
    });
    if (request.stdin === 'pipe') {
      if (stdin !== undefined) handle.writeStdin(stdin);
      handle.closeStdin();
    }
    const exit = await handle.exit;
    return { ...exit, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
  }

  async readFile(path: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.#request('file-read', { type: 'file-read', path }, this.#requestTimeoutMs, chunks);
    return Buffer.concat(chunks);
  }

  async writeFile(
    path: string,
    data: Buffer | string,
    opts: { mode?: number; append?: boolean } = {},
  ): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    await this.#request(
      'file-write',
      { type: 'file-write', path, ...opts },
      this.#requestTimeoutMs,
      undefined,
      bytes,
    );
  }

  list(path: string): Promise<FileStat[]> {
    return this.#request('file-list', { type: 'file-list', path });
  }

  stat(path: string): Promise<FileStat> {
    return this.#request('file-stat', { type: 'file-stat', path });
  }

  async mkdir(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    await this.#request('file-mkdir', { type: 'file-mkdir', path, recursive: opts.recursive === true });
  }

  async remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    await this.#request('file-remove', { type: 'file-remove', path, recursive: opts.recursive === true });
  }

  /** Round trip to the agent, in milliseconds. */
  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.#request('ping', { type: 'ping' });
    return performance.now() - t0;
  }

  async prepareSnapshot(): Promise<void> {
    await this.#request('prepare-snapshot', { type: 'prepare-snapshot' });
  }

  async afterRestore(o: { sandboxId: string; nowMs: number; entropy: Buffer }): Promise<void> {
    const msg = {
      type: 'after-restore',
      sandboxId: o.sandboxId,
      nowMs: o.nowMs,
      entropy: o.entropy.toString('hex'),
    };
    await this.#request('after-restore', msg as HostRequest);
  }

  /**
   * Sends a request whose output arrives as Data frames (Stdout/Stderr) on its channel, passed to
   * `onOutput`, and resolves with the guest's result value. The value is not checked here: the
   * caller checks it against its schema (see client-repl.ts).
   */
  call<K extends keyof ResultValues>(
    kind: K,
    msg: HostRequest,
    opts: { timeoutMs?: number; onOutput?: OutputHandler } = {},
  ): Promise<unknown> {
    return this.#request(kind, msg, opts.timeoutMs, undefined, undefined, opts.onOutput);
  }

  /** Asks the agent to stop everything and exit. */
  async shutdown(): Promise<void> {
    await this.#request('shutdown', { type: 'shutdown' });
  }

  onClose(listener: (err?: Error) => void): void {
    if (this.#closed) queueMicrotask(() => listener());
    else this.#closeListeners.push(listener);
  }

  /** Detaches from the streams and ends them; pending calls reject with SANDBOX_LOST. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#lost(new HearthError('SANDBOX_LOST', 'the agent connection was closed'), false);
      const w = this.#writable as NodeJS.WritableStream & { destroy?(): void };
      const r = this.#readable as NodeJS.ReadableStream & { destroy?(): void };
      if (typeof w.destroy === 'function') w.destroy();
      else w.end();
      if (r !== (w as unknown) && typeof r.destroy === 'function') r.destroy();
    })();
    return this.#closing;
  }

  #request<K extends keyof ResultValues>(
    _kind: K,
    msg: HostRequest,
    timeoutMs = this.#requestTimeoutMs,
    chunks?: Buffer[],
    fileData?: Buffer,
    onOutput?: OutputHandler,
  ): Promise<ResultValues[K]> {
    if (this.#closed)
      return Promise.reject(new HearthError('SANDBOX_LOST', 'the agent connection is closed'));
    const id = this.#nextId++;
    let frame: Buffer;
    try {
      frame = encodeJson({ ...msg, id });
    } catch (err) {
      return Promise.reject(tooLarge(err));
    }
    return new Promise<ResultValues[K]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new HearthError('AGENT_TIMEOUT', `the agent did not answer ${msg.type} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, chunks, onOutput });
      const frames = fileData ? encodeData(id, Stream.File, fileData) : [];
      frames.push(frame);
      this.#write(frames);
    });
  }

  #write(bufs: Buffer[]): void {
    if (this.#closed) return;
    const w = this.#writable as NodeJS.WritableStream & { cork?(): void; uncork?(): void };
    w.cork?.();
    for (const b of bufs) w.write(b);
    w.uncork?.();
  }

  #receive(chunk: Buffer): void {
    let frames: ReturnType<FrameDecoder['push']>;
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#lost(
        new HearthError('AGENT_PROTOCOL', `undecodable frame from the agent: ${(err as Error).message}`),
      );
      void this.close();
      return;
    }
    for (const frame of frames) {
      if (frame.kind === FrameKind.Data) this.#onDataFrame(frame.channel, frame.stream, frame.bytes);
      else this.#onMessage(frame.text);
    }
  }

  #onDataFrame(channel: number, stream: number, bytes: Buffer): void {
    if (stream === Stream.File) this.#pending.get(channel)?.chunks?.push(bytes);
    else if (stream === Stream.Stdout || stream === Stream.Stderr) {
      const name = stream === Stream.Stdout ? 'stdout' : 'stderr';
      const exec = this.#execs.get(channel);
      if (exec) exec.onOutput(name, bytes);
      else this.#pending.get(channel)?.onOutput?.(name, bytes);
    }
  }

  #onMessage(text: string): void {
    let msg: GuestMessage;
    try {
      msg = JSON.parse(text) as GuestMessage;
    } catch {
      return;
    }
    if (msg.type === 'log') return;
    if (msg.type === 'exit') {
      const exec = this.#execs.get(msg.id);
      this.#execs.delete(msg.id);
      const { type: _t, id: _i, ...exit } = msg;
      exec?.onExit(exit);
      return;
    }
    if (msg.type !== 'result') return;
    const exec = this.#execs.get(msg.id);
    if (exec) {
      if (msg.ok) exec.onStarted((msg.value as { pid: number }).pid);
      else {
        this.#execs.delete(msg.id);
        exec.fail(guestError(msg.error, 'EXEC_FAILED'));
      }
      return;
    }
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    clearTimeout(pending.timer);
    if (msg.ok) pending.resolve(msg.value);
    else pending.reject(guestError(msg.error, 'EXEC_FAILED'));
  }

  /** The stream is gone: every pending call and unfinished exec rejects, listeners hear once. */
  #lost(err: HearthError, notify = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readable.off('data', this.#onData);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    for (const e of this.#execs.values()) e.fail(err);
    this.#execs.clear();
    for (const l of this.#closeListeners.splice(0)) l(notify ? err : undefined);
    if (!notify) return;
    void this.close();
  }
}

function tooLarge(err: unknown): HearthError {
  return new HearthError('PAYLOAD_TOO_LARGE', `request too large for one frame: ${(err as Error).message}`, {
    hint: 'Pass large data as stdin or as a file, not in argv or env.',
  });
}

function guestError(e: WireError | undefined, fallback: 'EXEC_FAILED'): HearthError {
  const code = e?.code;
  return new HearthError(isErrorCode(code) ? code : fallback, e?.message ?? 'the agent reported an error');
}
