import { StringDecoder } from 'node:string_decoder';
import type { ExecHandle } from '../agent/client.js';
import type { ExecExit, ExecRequest } from '../agent/protocol.js';
import type { CommandRequest, CommandResult } from '../api/sessions.js';
import type { OutputHandlers } from '../api/sessions-api.js';
import { HearthError } from '../errors/hearth-error.js';
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';

/** One command's output as the host keeps it: at most `cap` bytes in all, decoded as UTF-8. */
class Output {
  readonly #decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  readonly text = { stdout: '', stderr: '' };
  #bytes = 0;
  truncated = false;

  constructor(readonly cap: number) {}

  /** The part of `chunk` kept, as bytes and as text (both empty when none). */
  add(stream: 'stdout' | 'stderr', chunk: Buffer): { bytes: Buffer; text: string } {
    const room = this.cap - this.#bytes;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return { bytes: Buffer.alloc(0), text: '' };
    const bytes = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#bytes += bytes.length;
    const text = this.#decoders[stream].write(bytes);
    this.text[stream] += text;
    return { bytes, text };
  }

  end(): void {
    this.text.stdout += this.#decoders.stdout.end();
    this.text.stderr += this.#decoders.stderr.end();
  }
}

/**
 * Hears a command's output: as text (hearth's API), or as the bytes the program wrote (E2B's envd
 * sends those, so output that is not UTF-8 reaches its client intact).
 */
export interface CommandListener extends OutputHandlers {
  onBytes?: (stream: 'stdout' | 'stderr', bytes: Buffer) => void;
}

/** What a command was started with, as `list` reports it. */
export interface StartedCommand {
  id: string;
  request: CommandRequest;
}

interface Running {
  id: string;
  request: CommandRequest;
  stdinOpen: boolean;
  handle: ExecHandle;
  output: Output;
  exit: ExecExit | undefined;
  /** It could not start, or its sandbox went: it runs no more, though it has no exit. */
  failed: boolean;
  listeners: Set<CommandListener>;
  done: Promise<CommandResult>;
}

function toResult(c: Running): CommandResult {
  const e = c.exit;
  return {
    id: c.id,
    state: e ? 'exited' : 'running',
    exitCode: e?.exitCode ?? null,
    signal: e?.signal ?? null,
    stdout: c.output.text.stdout,
    stderr: c.output.text.stderr,
    timedOut: e?.timedOut ?? false,
    truncated: (e?.truncated ?? false) || c.output.truncated,
    outOfMemory: e?.outOfMemory ?? false,
    wallTimeMs: e?.wallTimeMs ?? 0,
    cpuTimeMs: e?.cpuTimeMs ?? 0,
    peakMemoryKb: e?.peakMemoryKb ?? 0,
  };
}

/**
 * A session's commands: each runs through the manager's sandbox (so its deadline and output cap
 * are the host's), foreground ones answer when they end, background ones are kept with their output
 * for `get`, `list` and `kill`. The oldest finished ones are forgotten past `maxKept`.
 */
export class SessionCommands {
  readonly #all = new Map<string, Running>();
  /**
   * One count for the whole server, not one per session: a resumed session gets a new
   * SessionCommands while processes from before its pause may still run in its sandbox, and E2B
   * clients hold N of `cmd-N` as a pid that must not name another process.
   */
  static #seq = 0;

  constructor(
    private readonly o: {
      sessionId: string;
      env: Record<string, string>;
      maxOutputBytes: number;
      maxKept: number;
    },
  ) {}

  /** Starts a command; `done` resolves with its result once it ends (or the sandbox goes). */
  start(
    sandbox: ManagedSandbox,
    req: CommandRequest & { timeoutMs: number; interactive?: boolean },
    handlers: CommandListener = {},
  ): { id: string; done: Promise<CommandResult>; handle: ExecHandle } {
    const id = `cmd-${++SessionCommands.#seq}`;
    const exec: ExecRequest = {
      ...(req.argv ? { argv: req.argv } : { shell: req.cmd ?? '' }),
      env: { ...this.o.env, ...req.env },
      ...(req.cwd ? { cwd: req.cwd } : {}),
      stdin: req.stdin !== undefined || req.interactive ? 'pipe' : 'null',
      limits: { timeoutMs: req.timeoutMs, maxOutputBytes: this.o.maxOutputBytes },
    };
    const output = new Output(this.o.maxOutputBytes);
    const listeners = new Set<CommandListener>([handlers]);
    const tell = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const { bytes, text } = output.add(stream, chunk);
      for (const l of listeners) {
        if (bytes.length > 0) l.onBytes?.(stream, bytes);
        if (text) (stream === 'stdout' ? l.onStdout : l.onStderr)?.(text);
      }
    };
    const handle = sandbox.exec(
      exec,
      { onStdout: tell('stdout'), onStderr: tell('stderr') },
      { session: this.o.sessionId, command: id },
    );
    if (req.stdin !== undefined) handle.writeStdin(req.stdin);
    // An interactive command's stdin stays open for its client; any other gets EOF now.
    if (req.stdin !== undefined && !req.interactive) handle.closeStdin();
    // Kept for `running()`, without the stdin already written (it can be megabytes).
    const { timeoutMs: _t, interactive: _i, stdin: _s, ...request } = req;
    const stdinOpen = req.interactive === true;
    const running: Running = {
      id,
      request,
      stdinOpen,
      handle,
      output,
      exit: undefined,
      failed: false,
      listeners,
      done: undefined as never,
    };
    running.done = handle.exit.then(
      (exit) => {
        output.end();
        running.exit = exit;
        this.#forgetOld();
        return toResult(running);
      },
      (err: unknown) => {
        output.end();
        running.failed = true;
        throw err;
      },
    );
    running.done.catch(() => {});
    this.#all.set(id, running);
    return { id, done: running.done, handle };
  }

  get(id: string): CommandResult {
    return toResult(this.#find(id));
  }

  list(): CommandResult[] {
    return [...this.#all.values()].map(toResult);
  }

  /** The commands still running, with what each was started with. */
  running(): StartedCommand[] {
    return [...this.#all.values()]
      .filter((c) => !c.exit && !c.failed)
      .map((c) => ({ id: c.id, request: c.request }));
  }

  /**
   * Hears a command's output from now on, until `detach` (a client that attaches again to a
   * command it started earlier); `done` is the command's result.
   */
  attach(id: string, listener: CommandListener): { done: Promise<CommandResult>; detach: () => void } {
    const c = this.#find(id);
    c.listeners.add(listener);
    return { done: c.done, detach: () => c.listeners.delete(listener) };
  }

  /** The stdin of a running command that was started with it open. */
  stdin(id: string): Pick<ExecHandle, 'writeStdin' | 'closeStdin'> {
    const c = this.#find(id);
    if (!c.stdinOpen) {
      throw new HearthError('VALIDATION_FAILED', `command ${id} was started without stdin`, {
        hint: 'Start the command with stdin open to write to it.',
      });
    }
    return { writeStdin: (d) => c.handle.writeStdin(d), closeStdin: () => c.handle.closeStdin() };
  }

  async kill(id: string, signal = 'SIGKILL'): Promise<CommandResult> {
    const c = this.#find(id);
    if (!c.exit) {
      await c.handle.kill(signal);
      if (signal === 'SIGKILL') await c.done.catch(() => {});
    }
    return toResult(c);
  }

  /** Drops a command from the list once it ended (foreground commands are not kept). */
  forget(id: string): void {
    this.#all.delete(id);
  }

  #find(id: string): Running {
    const c = this.#all.get(id);
    if (!c) throw new HearthError('COMMAND_NOT_FOUND', `no command ${id} in session ${this.o.sessionId}`);
    return c;
  }

  #forgetOld(): void {
    const finished = [...this.#all.values()].filter((c) => c.exit);
    for (const c of finished.slice(0, Math.max(0, finished.length - this.o.maxKept))) this.#all.delete(c.id);
  }
}
