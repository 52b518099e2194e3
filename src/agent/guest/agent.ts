/**
 * The guest agent: decodes frames from the host, serves each request, and never dies from a bad
 * message (it answers AGENT_PROTOCOL; only undecodable framing ends it).
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { encodeData, encodeJson, FrameDecoder } from '../framing.js';
import { GUEST_CALLS_CAPABILITY } from '../guest-calls.js';
import {
  type ExecLimits,
  FrameKind,
  type GuestMessage,
  type HelloInfo,
  type HostMessage,
  PROTOCOL_VERSION,
  Stream,
} from '../protocol.js';
import { AGENT_VERSION } from '../version.js';
import { GuestCalls } from './calls.js';
import type { Confinement } from './confine.js';
import { GuestExec } from './exec.js';
import type { ExecServer } from './exec-server.js';
import { GuestFiles } from './files.js';
import { GuestError, toWireError } from './guest-error.js';
import type { LimitSetup } from './limits.js';
import { GuestRepl } from './repl.js';
import { afterRestore, prepareSnapshot } from './system.js';
import type { Transport } from './transport.js';

export interface GuestAgentOptions {
  confine: Confinement;
  shim: string | undefined;
  /** Starts shims without forking Node (`hearth-exec --server`); undefined spawns one per exec. */
  execServer?: ExecServer | undefined;
  limits: LimitSetup;
  /** The seccomp filter the shim loads for programs run as another user (see ExecContext.filter). */
  programFilter?: string | undefined;
  /** Environment every exec starts from, before the request's own. */
  baseEnv: Record<string, string>;
  /** Called when the agent should exit (shutdown, or a broken stream). */
  exit(code: number): void;
}

/** Bytes of file-write content held per request before it is refused. */
const MAX_PENDING_WRITE_BYTES = 1024 * 1024 * 1024;

export class GuestAgent {
  readonly #opts: GuestAgentOptions;
  readonly #decoder = new FrameDecoder();
  readonly #execs = new Map<number, GuestExec>();
  readonly #pendingWrites = new Map<number, { chunks: Buffer[]; bytes: number }>();
  readonly #files: GuestFiles;
  readonly #repl: GuestRepl;
  readonly #calls = new GuestCalls((msg) => this.#send(msg));
  #transport!: Transport;
  #sandboxId: string | undefined;

  constructor(opts: GuestAgentOptions) {
    this.#opts = opts;
    this.#files = new GuestFiles(opts.confine);
    this.#repl = new GuestRepl({
      workDir: opts.confine.workDir,
      baseEnv: opts.baseEnv,
      sendOutput: (channel, stream, bytes) =>
        this.#transport.write(
          encodeData(channel, stream === 'stdout' ? Stream.Stdout : Stream.Stderr, bytes),
        ),
      onDrain: (l) => this.#transport.onDrain(l),
      call: (channel, method, params) => this.#calls.call(channel, method, params),
      runEnded: (channel) => this.#calls.cancelChannel(channel),
      ...(opts.confine.owner ? { user: opts.confine.owner } : {}),
    });
  }

  attach(transport: Transport): void {
    this.#transport = transport;
  }

  /** Bytes from the host. */
  onData(chunk: Buffer): void {
    let frames: ReturnType<FrameDecoder['push']>;
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.#send({ type: 'log', level: 'error', message: `undecodable frame: ${(err as Error).message}` });
      this.#killAll();
      void this.#transport.flush(1000).then(() => this.#opts.exit(2));
      return;
    }
    for (const frame of frames) {
      if (frame.kind === FrameKind.Data) this.#onDataFrame(frame.channel, frame.stream, frame.bytes);
      else this.#onJson(frame.text);
    }
  }

  /** The host side reconnected (virtio-serial): drop any half frame. */
  onReset(): void {
    this.#decoder.reset();
  }

  #onDataFrame(channel: number, stream: number, bytes: Buffer): void {
    if (stream === Stream.Stdin) this.#execs.get(channel)?.writeStdin(bytes);
    else if (stream === Stream.File) {
      const pending = this.#pendingWrites.get(channel) ?? { chunks: [], bytes: 0 };
      pending.bytes += bytes.length;
      if (pending.bytes <= MAX_PENDING_WRITE_BYTES) pending.chunks.push(bytes);
      this.#pendingWrites.set(channel, pending);
    }
  }

  #onJson(text: string): void {
    let msg: HostMessage;
    try {
      msg = JSON.parse(text) as HostMessage;
    } catch {
      this.#send({ type: 'log', level: 'warn', message: 'ignored a frame that is not JSON' });
      return;
    }
    if (typeof msg !== 'object' || msg === null || !Number.isInteger(msg.id) || msg.id <= 0) {
      this.#send({ type: 'log', level: 'warn', message: 'ignored a message without a valid id' });
      return;
    }
    const id = msg.id;
    // An answer to one of the agent's own calls: it gets no result of its own.
    if (msg.type === 'call-result') {
      this.#calls.onAnswer(msg);
      return;
    }
    try {
      const value = this.#handle(msg);
      if (value instanceof Promise)
        value.then(
          (v) => this.#send({ type: 'result', id, ok: true, value: v }),
          (err) => this.#send({ type: 'result', id, ok: false, error: toWireError(err) }),
        );
      else this.#send({ type: 'result', id, ok: true, value });
    } catch (err) {
      this.#send({ type: 'result', id, ok: false, error: toWireError(err) });
    }
  }

  #handle(msg: HostMessage): unknown {
    switch (msg.type) {
      case 'hello':
        return this.#hello(msg.protocolVersions, msg.capabilities);
      case 'exec':
        return this.#exec(msg);
      case 'close-stdin':
        this.#execs.get(msg.channel)?.closeStdin();
        return null;
      case 'signal':
        this.#execs.get(msg.channel)?.signal(String(msg.signal));
        return null;
      case 'file-read':
        return this.#files.read(msg.path, {
          send: (bytes) => this.#sendBytes(encodeData(msg.id, Stream.File, bytes)),
        });
      case 'file-write':
        return this.#fileWrite(msg);
      case 'file-list':
        return this.#files.list(msg.path);
      case 'file-stat':
        return this.#files.stat(msg.path);
      case 'file-mkdir':
        return this.#files.mkdir(msg.path, msg.recursive === true);
      case 'file-remove':
        return this.#files.remove(msg.path, msg.recursive === true);
      case 'ping':
        return { nowMs: Date.now() };
      case 'prepare-snapshot':
        return prepareSnapshot(this.#opts.shim);
      case 'after-restore':
        return this.#afterRestore(msg);
      case 'shutdown':
        setImmediate(() => this.#shutdown());
        return null;
      case 'repl-create':
        return this.#repl.create(msg);
      case 'repl-run':
        return this.#repl.run(msg);
      case 'repl-list':
        return this.#repl.list();
      case 'repl-restart':
        return this.#repl.restart(msg);
      case 'repl-delete':
        return this.#repl.delete(msg);
      case 'repl-interrupt':
        return this.#repl.interrupt(msg);
      default:
        throw new GuestError('AGENT_PROTOCOL', `unknown message type ${(msg as { type?: unknown }).type}`);
    }
  }

  #hello(versions: unknown, hostCapabilities: unknown): HelloInfo {
    if (!Array.isArray(versions) || !versions.includes(PROTOCOL_VERSION))
      throw new GuestError('AGENT_UNKNOWN_VERSION', `this agent speaks protocol ${PROTOCOL_VERSION} only`);
    // Calls go only to a host that said it answers them: an older host would end the connection.
    this.#calls.enable(Array.isArray(hostCapabilities) && hostCapabilities.includes(GUEST_CALLS_CAPABILITY));
    const { shim, limits, confine } = this.#opts;
    return {
      agentVersion: AGENT_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      capabilities: [
        'exec',
        'files',
        'signal',
        'snapshot-hooks',
        'repl',
        GUEST_CALLS_CAPABILITY,
        shim ? 'exec-shim' : 'exec-direct',
      ],
      pid: process.pid,
      workDir: confine.workDir,
      limitMechanism: limits.mechanism,
    };
  }

  #exec(msg: Extract<HostMessage, { type: 'exec' }>): { pid: number } | Promise<{ pid: number }> {
    if (this.#execs.has(msg.id)) throw new GuestError('AGENT_PROTOCOL', `request id ${msg.id} is in use`);
    const argv = execArgv(msg);
    const limits = execLimits(msg.limits);
    const workDir = this.#opts.confine.workDir;
    const cwd = msg.cwd === undefined ? workDir : isAbsolute(msg.cwd) ? msg.cwd : resolve(workDir, msg.cwd);
    if (msg.cwd !== undefined && !statSync(cwd, { throwIfNoEntry: false })?.isDirectory())
      throw new GuestError('FILE_NOT_FOUND', `working directory ${msg.cwd} does not exist`);
    // PWD names the cwd as given: a shell's `pwd` then shows /home/user rather than the /work it
    // leads to (getcwd() still answers with the real path).
    const env: Record<string, string> = { ...this.#opts.baseEnv, PWD: cwd };
    if (this.#sandboxId) env.HEARTH_SANDBOX_ID = this.#sandboxId;
    for (const [k, v] of Object.entries(msg.env ?? {})) if (typeof v === 'string') env[k] = v;
    const exec = new GuestExec(
      {
        shim: this.#opts.shim,
        server: this.#opts.execServer,
        limits: this.#opts.limits,
        user: this.#opts.confine.owner,
        filter: this.#opts.confine.owner ? this.#opts.programFilter : undefined,
        sendOutput: (channel, stream, bytes) =>
          this.#transport.write(
            encodeData(channel, stream === 'stdout' ? Stream.Stdout : Stream.Stderr, bytes),
          ),
        onDrain: (l) => this.#transport.onDrain(l),
        sendExit: (channel, exit) => this.#send({ type: 'exit', id: channel, ...exit }),
        onDone: (channel) => this.#execs.delete(channel),
      },
      msg.id,
      { argv, cwd, env, stdin: msg.stdin === 'pipe' ? 'pipe' : 'null', limits },
    );
    this.#execs.set(msg.id, exec);
    if (!exec.started) return { pid: exec.pid };
    return exec.started.then(
      () => ({ pid: exec.pid }),
      (err: unknown) => {
        this.#execs.delete(msg.id);
        throw err;
      },
    );
  }

  async #fileWrite(msg: Extract<HostMessage, { type: 'file-write' }>): Promise<{ size: number }> {
    const pending = this.#pendingWrites.get(msg.id);
    this.#pendingWrites.delete(msg.id);
    if (pending && pending.bytes > MAX_PENDING_WRITE_BYTES)
      throw new GuestError('FILE_TOO_LARGE', `file content over ${MAX_PENDING_WRITE_BYTES} bytes`);
    const data = pending ? Buffer.concat(pending.chunks, pending.bytes) : Buffer.alloc(0);
    return this.#files.write(msg.path, data, { mode: msg.mode, append: msg.append === true });
  }

  #afterRestore(msg: Extract<HostMessage, { type: 'after-restore' }>): null {
    if (typeof msg.sandboxId !== 'string' || !msg.sandboxId)
      throw new GuestError('BAD_REQUEST', 'sandboxId must be a non-empty string');
    const warnings = afterRestore(this.#opts.shim, { nowMs: msg.nowMs, entropyHex: String(msg.entropy) });
    this.#sandboxId = msg.sandboxId;
    for (const w of warnings) this.#send({ type: 'log', level: 'warn', message: w });
    return null;
  }

  #sendBytes(bufs: Buffer[]): Promise<void> {
    if (this.#transport.write(bufs)) return Promise.resolve();
    return new Promise((r) => this.#transport.onDrain(r));
  }

  #send(msg: GuestMessage): void {
    this.#transport.write([encodeJson(msg)]);
  }

  #killAll(): void {
    this.#repl.killAll();
    for (const exec of this.#execs.values()) exec.kill();
  }

  async #shutdown(): Promise<void> {
    this.#killAll();
    await this.#transport.flush(2000);
    this.#opts.exit(0);
  }

  /** The stream ended: kill everything still running and leave. */
  onEnd(): void {
    this.#killAll();
    setTimeout(() => this.#opts.exit(0), 200).unref();
  }
}

const LIMIT_KEYS: ReadonlyArray<keyof ExecLimits> = [
  'timeoutMs',
  'cpuTimeMs',
  'memoryMb',
  'maxProcesses',
  'maxFileBytes',
  'maxOutputBytes',
  'maxOpenFiles',
];

function execLimits(limits: unknown): ExecLimits {
  if (limits === undefined || limits === null) return {};
  if (typeof limits !== 'object') throw new GuestError('BAD_REQUEST', 'limits must be an object');
  const out: ExecLimits = {};
  for (const key of LIMIT_KEYS) {
    const v = (limits as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new GuestError('BAD_REQUEST', `limits.${key} must be a non-negative number`);
    out[key] = v;
  }
  return out;
}

function execArgv(msg: { argv?: unknown; shell?: unknown }): string[] {
  const hasArgv = msg.argv !== undefined;
  const hasShell = msg.shell !== undefined;
  if (hasArgv === hasShell) throw new GuestError('BAD_REQUEST', 'give exactly one of argv and shell');
  if (hasShell) {
    if (typeof msg.shell !== 'string') throw new GuestError('BAD_REQUEST', 'shell must be a string');
    return ['/bin/sh', '-c', msg.shell];
  }
  const argv = msg.argv;
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string'))
    throw new GuestError('BAD_REQUEST', 'argv must be a non-empty array of strings');
  return argv as string[];
}
