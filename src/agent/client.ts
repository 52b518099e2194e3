/**
 * The host's typed client of a guest agent, over any pair of byte streams.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { HearthError, toHearthError } from '../errors/hearth-error.js';
import { GuestCallTable } from './client-calls.js';
import { type ExecHandle, type ExecHandlers, PendingExec } from './client-exec.js';
import { guestError, type OutputHandler, type ReadSink, RequestTable } from './client-requests.js';
import { encodeData, encodeJson, FrameDecoder, FramingError } from './framing.js';
import { GUEST_CALLS_CAPABILITY, type GuestCallHandler } from './guest-calls.js';
import { checkResultValue, parseGuestMessage, protocolError } from './guest-messages.js';
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
  /**
   * How long past its `timeoutMs` an exec may go unreported before the host ends it as timed out
   * and closes the connection with AGENT_TIMEOUT (the guest did not enforce its limit). It covers the
   * guest's own kill (the agent waits up to 3 s for the shim to kill a tree before SIGKILLing it; a
   * fork bomb under gVisor takes that long) and the report's way back. @default EXEC_GRACE_MS
   */
  execGraceMs?: number;
  /** `log` messages accepted per second; more end the connection. @default 50 */
  logsPerSecond?: number;
}

/** The default of `execGraceMs`. */
export const EXEC_GRACE_MS = 5000;

/** The largest file `readFile` accepts unless told otherwise. */
export const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;

export type RunResult = ExecExit & { stdout: Buffer; stderr: Buffer };

/** `run()`'s request: `stdin` is the content fed to the program (then closed); without it, /dev/null. */
export type RunRequest = Omit<ExecRequest, 'stdin'> & { stdin?: Buffer | string };

type HostRequest = HostMessage extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

export class AgentClient {
  readonly #readable: NodeJS.ReadableStream;
  readonly #writable: NodeJS.WritableStream;
  readonly #requestTimeoutMs: number;
  readonly #execGraceMs: number;
  readonly #logsPerSecond: number;
  #logWindow = { startMs: 0, count: 0 };
  readonly #decoder = new FrameDecoder();
  readonly #requests = new RequestTable();
  readonly #execs = new Map<number, PendingExec>();
  readonly #calls = new GuestCallTable(
    (frame) => this.#write([frame]),
    (channel) => this.#requests.has(channel),
  );
  readonly #closeListeners: Array<(err?: Error) => void> = [];
  /**
   * Request ids start at a random point: a VM restored from a snapshot keeps the execs of the
   * connection it was saved with, and a new connection must not reuse their channels.
   */
  #nextId = randomInt(1, 2 ** 30);
  #closed = false;
  #closing: Promise<void> | undefined;
  #info: HelloInfo | undefined;
  /**
   * The agent has answered `hello`. Until then a result for an unknown id is dropped: a new
   * connection on a reused transport (a restored VM's port, reconnected after a lost hello) may
   * first carry the late answer to the previous connection's hello.
   */
  #established = false;
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  readonly #onEnd = (): void => this.#lost(new HearthError('SANDBOX_LOST', 'the agent stream ended'));
  readonly #onError = (err: Error): void =>
    this.#lost(new HearthError('SANDBOX_LOST', `the agent stream failed: ${err.message}`, { cause: err }));

  private constructor(opts: AgentConnectOptions) {
    this.#readable = opts.readable;
    this.#writable = opts.writable;
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#execGraceMs = opts.execGraceMs ?? EXEC_GRACE_MS;
    this.#logsPerSecond = opts.logsPerSecond ?? 50;
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
        {
          type: 'hello',
          protocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
          capabilities: [GUEST_CALLS_CAPABILITY],
        },
        opts.helloTimeoutMs ?? 10_000,
      );
      if (!SUPPORTED_PROTOCOL_VERSIONS.includes(info.protocolVersion))
        throw new HearthError(
          'AGENT_UNKNOWN_VERSION',
          `agent ${info.agentVersion} speaks protocol ${info.protocolVersion}; this host speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
        );
      client.#info = info;
      client.#established = true;
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
    const exec = new PendingExec(
      id,
      handlers,
      {
        sendStdin: (channel, data) => this.#write(encodeData(channel, Stream.Stdin, data)),
        closeStdin: (channel) => this.#request('close-stdin', { type: 'close-stdin', channel }),
        signal: (channel, signal) => this.#request('signal', { type: 'signal', channel, signal }),
        overdue: (channel, timeoutMs) => this.#overdue(channel, timeoutMs),
      },
      { limits: req.limits, graceMs: this.#execGraceMs },
    );
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
  run(req: RunRequest, handlers: ExecHandlers = {}): Promise<RunResult> {
    return runToEnd((r, h) => this.exec(r, h), req, handlers);
  }

  /** Reads a whole file; one larger than `maxBytes` is refused with FILE_TOO_LARGE. */
  async readFile(path: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    await this.#request('file-read', { type: 'file-read', path }, this.#requestTimeoutMs, {
      chunks,
      maxBytes,
    });
    return Buffer.concat(chunks);
  }

  /**
   * Reads a file a piece at a time: `onChunk` gets each as it arrives (a file larger than
   * `maxBytes` ends with FILE_TOO_LARGE once that many bytes have passed). Resolves with the size.
   */
  async readFileStream(
    path: string,
    opts: { maxBytes?: number; onChunk: (bytes: Buffer) => void },
  ): Promise<number> {
    let size = 0;
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
    await this.#request('file-read', { type: 'file-read', path }, this.#requestTimeoutMs, {
      chunks: [],
      maxBytes,
      onChunk: (bytes) => {
        size += bytes.length;
        opts.onChunk(bytes);
      },
    });
    return size;
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

  /** Round trip to the agent, in milliseconds; AGENT_TIMEOUT when it takes over `timeoutMs`. */
  async ping(timeoutMs = this.#requestTimeoutMs): Promise<number> {
    const t0 = performance.now();
    await this.#request('ping', { type: 'ping' }, timeoutMs);
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
   * `onOutput`, and resolves with the guest's result value, checked like every other (a value of
   * the wrong shape ends the connection with AGENT_PROTOCOL). Used by ReplClient (client-repl.ts).
   */
  call<K extends keyof ResultValues>(
    kind: K,
    msg: HostRequest,
    opts: { timeoutMs?: number; onOutput?: OutputHandler } = {},
  ): Promise<ResultValues[K]> {
    return this.#request(kind, msg, opts.timeoutMs, undefined, undefined, opts.onOutput);
  }

  /**
   * Sets who answers the calls code in this sandbox makes (`llm_query` …); undefined: every call is
   * answered with an error saying no model is attached. Calls already running keep their handler.
   */
  setCallHandler(handler: GuestCallHandler | undefined): void {
    this.#calls.setHandler(handler);
  }

  /** Calls from the guest waiting on the handler now. */
  get callsInFlight(): number {
    return this.#calls.inFlight;
  }

  /** Asks the agent to stop everything and exit. */
  async shutdown(): Promise<void> {
    await this.#request('shutdown', { type: 'shutdown' });
  }

  /**
   * Ends the connection because the agent misbehaved (it stopped answering, broke the protocol):
   * pending calls reject with `err` and close listeners hear it, so the owner destroys the sandbox.
   */
  abort(err: HearthError): void {
    this.#lost(err);
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
    kind: K,
    msg: HostRequest,
    timeoutMs = this.#requestTimeoutMs,
    read?: ReadSink,
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
    const answer = this.#requests.add(id, kind, timeoutMs, read, onOutput);
    if (kind === 'repl-run') {
      // A run that ended, however it did (its result, a timeout, a lost connection), takes the
      // calls its code made with it.
      const ended = () => this.#calls.runEnded(id);
      answer.then(ended, ended);
    }
    const frames = fileData ? encodeData(id, Stream.File, fileData) : [];
    frames.push(frame);
    this.#write(frames);
    return answer;
  }

  #write(bufs: Buffer[]): void {
    if (this.#closed) return;
    const w = this.#writable as NodeJS.WritableStream & { cork?(): void; uncork?(): void };
    w.cork?.();
    for (const b of bufs) w.write(b);
    w.uncork?.();
  }

  /** Nothing the guest sends may throw out of this stream handler: any failure ends the connection. */
  #receive(chunk: Buffer): void {
    try {
      for (const frame of this.#decoder.push(chunk)) {
        if (this.#closed) return;
        if (frame.kind === FrameKind.Data) this.#onDataFrame(frame.channel, frame.stream, frame.bytes);
        else this.#onMessage(parseGuestMessage(frame.text));
      }
    } catch (err) {
      this.#lost(
        err instanceof FramingError
          ? protocolError(`an undecodable frame (${err.message})`)
          : err instanceof HearthError
            ? err
            : toHearthError(err, 'INTERNAL'),
      );
    }
  }

  #onDataFrame(channel: number, stream: number, bytes: Buffer): void {
    if (stream === Stream.File) {
      this.#requests.onFileData(channel, bytes);
      return;
    }
    if (stream === Stream.Stdout || stream === Stream.Stderr) {
      const name = stream === Stream.Stdout ? 'stdout' : 'stderr';
      const exec = this.#execs.get(channel);
      if (exec && !exec.done) exec.onOutput(name, bytes);
      // Not an exec's: it may be the output of a request that streams it (repl-run).
      else if (!this.#requests.onOutput(channel, name, bytes))
        throw protocolError(`output on channel ${channel}, which is no running exec or run`);
      return;
    }
    throw protocolError(`a data frame for stream ${stream} on channel ${channel}`);
  }

  #onMessage(msg: GuestMessage): void {
    if (msg.type === 'log') {
      this.#countLog();
      return;
    }
    if (msg.type === 'call') {
      this.#calls.onCall(msg);
      return;
    }
    const exec = this.#execs.get(msg.id);
    if (msg.type === 'exit') {
      if (!exec || exec.done) throw protocolError(`an exit for ${msg.id}, which is no running exec`);
      // The exit may overtake the exec's result; the id stays known until that arrives.
      if (exec.answered) this.#execs.delete(msg.id);
      const { type: _t, id: _i, ...exit } = msg;
      exec.onExit(exit);
      return;
    }
    if (exec) {
      if (exec.answered) throw protocolError(`a second result for exec ${msg.id}`);
      exec.answered = true;
      if (msg.ok) {
        const { pid } = checkResultValue('exec', msg.value);
        if (exec.done) this.#execs.delete(msg.id);
        else exec.onStarted(pid);
      } else {
        if (exec.done) throw protocolError(`a failed result for exec ${msg.id} after its exit`);
        this.#execs.delete(msg.id);
        exec.fail(guestError(msg.error));
      }
      return;
    }
    this.#requests.onResult(msg, !this.#established);
  }

  /** `log` messages are not used by the host; a flood of them is a guest misbehaving. */
  #countLog(): void {
    const now = performance.now();
    if (now - this.#logWindow.startMs >= 1000) this.#logWindow = { startMs: now, count: 0 };
    if (++this.#logWindow.count > this.#logsPerSecond)
      throw protocolError(`more than ${this.#logsPerSecond} log messages in a second`);
  }

  /** An exec passed its host-side deadline: it ends as timed out and the agent is given up. */
  #overdue(channel: number, timeoutMs: number): void {
    const exec = this.#execs.get(channel);
    if (!exec || exec.done || this.#closed) return;
    exec.timeOut();
    this.#lost(
      new HearthError(
        'AGENT_TIMEOUT',
        `exec ${channel} ran past its ${timeoutMs} ms timeout by ${this.#execGraceMs} ms without the agent ending it`,
      ),
    );
  }

  /** The stream is gone: every pending call and unfinished exec rejects, listeners hear once. */
  #lost(err: HearthError, notify = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readable.off('data', this.#onData);
    this.#requests.rejectAll(err);
    this.#calls.close();
    for (const e of this.#execs.values()) e.fail(err);
    this.#execs.clear();
    for (const l of this.#closeListeners.splice(0)) {
      try {
        l(notify ? err : undefined);
      } catch {}
    }
    if (!notify) return;
    void this.close();
  }
}

function tooLarge(err: unknown): HearthError {
  return new HearthError('PAYLOAD_TOO_LARGE', `request too large for one frame: ${(err as Error).message}`, {
    hint: 'Pass large data as stdin or as a file, not in argv or env.',
  });
}

/** Runs a program through `exec` to the end and gathers its output (AgentClient.run and its wrappers). */
export async function runToEnd(
  exec: (req: ExecRequest, handlers: ExecHandlers) => ExecHandle,
  req: RunRequest,
  handlers: ExecHandlers = {},
): Promise<RunResult> {
  const { stdin, ...rest } = req;
  const request: ExecRequest = { ...rest, stdin: stdin !== undefined ? 'pipe' : 'null' };
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const handle = exec(request, {
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
