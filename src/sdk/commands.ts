import type { CommandRequest, CommandResult } from '../api/sessions.js';
import type { SessionsApi } from '../api/sessions-api.js';
import { HearthApiError, TimeoutError } from './errors.js';
import type { HttpCore } from './http.js';
import { InteractiveCommand } from './interactive.js';

export interface CommandRunOptions {
  /** Called with each piece of stdout as it comes (for a background command: as `wait()` polls). */
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  /** The command's own deadline; past it the command is killed. @default 60000 */
  timeoutMs?: number;
  /** Start it and return a handle at once. @default false */
  background?: boolean;
  /** @default the image's working directory */
  cwd?: string;
  /** Extra environment variables for this command. @default {} */
  envs?: Record<string, string>;
  /** Text fed to the command's stdin. @default none */
  stdin?: string;
  signal?: AbortSignal;
}

/** A command that exited non-zero (or by a signal): the error carries its whole result. */
export class CommandExitError extends HearthApiError implements CommandResult {
  override readonly name = 'CommandExitError';
  readonly id: string;
  readonly state: CommandResult['state'];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly outOfMemory: boolean;
  readonly wallTimeMs: number;
  readonly cpuTimeMs: number;
  readonly peakMemoryKb: number;

  constructor(r: CommandResult) {
    const how = r.exitCode !== null ? `exit code ${r.exitCode}` : `signal ${r.signal ?? 'unknown'}`;
    super(200, {
      code: 'COMMAND_EXIT',
      message: `the command ended with ${how}`,
      hint: 'Read stderr on this error.',
    });
    this.id = r.id;
    this.state = r.state;
    this.exitCode = r.exitCode;
    this.signal = r.signal;
    this.stdout = r.stdout;
    this.stderr = r.stderr;
    this.timedOut = r.timedOut;
    this.truncated = r.truncated;
    this.outOfMemory = r.outOfMemory;
    this.wallTimeMs = r.wallTimeMs;
    this.cpuTimeMs = r.cpuTimeMs;
    this.peakMemoryKb = r.peakMemoryKb;
  }
}

/** A finished result as the caller sees it: returned when it exited 0, else thrown. */
function settle(r: CommandResult, timeoutMs: number | undefined): CommandResult {
  if (r.timedOut) {
    throw new TimeoutError(200, {
      code: 'COMMAND_TIMEOUT',
      message: `the command was killed after ${timeoutMs ?? 60_000} ms`,
      hint: 'Pass a larger timeoutMs, or run it with background: true.',
      result: r,
    });
  }
  if (r.exitCode !== 0) throw new CommandExitError(r);
  return r;
}

const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 1000;

/** A background command: its id, and `wait()` and `kill()`. */
export class CommandHandle {
  readonly id: string;
  readonly #api: SessionsApi;
  readonly #sessionId: string;
  readonly #opts: CommandRunOptions;
  #seenOut = 0;
  #seenErr = 0;

  constructor(api: SessionsApi, sessionId: string, first: CommandResult, opts: CommandRunOptions) {
    this.#api = api;
    this.#sessionId = sessionId;
    this.id = first.id;
    this.#opts = opts;
    this.#emit(first);
  }

  /** Its result so far (state `running` until it exits). */
  async result(): Promise<CommandResult> {
    const r = await this.#api.getCommand(this.#sessionId, this.id);
    this.#emit(r);
    return r;
  }

  /** Waits for it to exit; output goes to onStdout/onStderr as it is polled. Non-zero exit throws. */
  async wait(): Promise<CommandResult> {
    let delayMs = POLL_FIRST_MS;
    for (;;) {
      const r = await this.result();
      if (r.state === 'exited') return settle(r, this.#opts.timeoutMs);
      this.#opts.signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, POLL_MAX_MS);
    }
  }

  /** Sends it a signal. @default 'SIGKILL' */
  async kill(signal = 'SIGKILL'): Promise<CommandResult> {
    return this.#api.killCommand(this.#sessionId, this.id, signal);
  }

  /** Hands the output not yet seen to the handlers (the server keeps the whole output so far). */
  #emit(r: CommandResult): void {
    if (r.stdout.length > this.#seenOut) this.#opts.onStdout?.(r.stdout.slice(this.#seenOut));
    if (r.stderr.length > this.#seenErr) this.#opts.onStderr?.(r.stderr.slice(this.#seenErr));
    this.#seenOut = Math.max(this.#seenOut, r.stdout.length);
    this.#seenErr = Math.max(this.#seenErr, r.stderr.length);
  }
}

/** `sandbox.commands`: run, list and kill commands in one session. */
export class Commands {
  readonly #api: SessionsApi;
  readonly #sessionId: string;
  readonly #http: HttpCore | undefined;

  constructor(api: SessionsApi, sessionId: string, http?: HttpCore) {
    this.#api = api;
    this.#sessionId = sessionId;
    this.#http = http;
  }

  /**
   * Starts a command with a live stdin (`sendStdin`, `closeStdin`) and signals (`kill`), over a
   * WebSocket; `wait()` gives its result whatever its exit code.
   */
  async spawn(
    cmd: string | string[],
    opts: Omit<CommandRunOptions, 'background' | 'signal' | 'stdin'> = {},
  ): Promise<InteractiveCommand> {
    if (!this.#http) {
      throw new HearthApiError(400, {
        code: 'BAD_REQUEST',
        message: 'interactive commands need a connection to a server',
        hint: 'Create or connect the Sandbox with a baseUrl (or HEARTH_URL), not an in-process api.',
      });
    }
    const req: CommandRequest = {
      ...(typeof cmd === 'string' ? { cmd } : { argv: cmd }),
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.envs ? { env: opts.envs } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    };
    const handlers = {
      ...(opts.onStdout ? { onStdout: opts.onStdout } : {}),
      ...(opts.onStderr ? { onStderr: opts.onStderr } : {}),
    };
    return InteractiveCommand.open(this.#http, this.#sessionId, req, handlers);
  }

  /** Runs `cmd` with /bin/sh -c; a non-zero exit throws CommandExitError, a timeout TimeoutError. */
  run(cmd: string, opts: CommandRunOptions & { background: true }): Promise<CommandHandle>;
  run(cmd: string, opts?: CommandRunOptions & { background?: false }): Promise<CommandResult>;
  run(cmd: string, opts?: CommandRunOptions): Promise<CommandResult | CommandHandle>;
  async run(cmd: string, opts: CommandRunOptions = {}): Promise<CommandResult | CommandHandle> {
    const req: CommandRequest = {
      cmd,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.envs ? { env: opts.envs } : {}),
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.background ? { background: true } : {}),
    };
    if (opts.background) {
      const first = await this.#api.runCommand(this.#sessionId, req);
      return new CommandHandle(this.#api, this.#sessionId, first, opts);
    }
    const handlers = {
      ...(opts.onStdout ? { onStdout: opts.onStdout } : {}),
      ...(opts.onStderr ? { onStderr: opts.onStderr } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    return settle(await this.#api.runCommand(this.#sessionId, req, handlers), opts.timeoutMs);
  }

  /** The session's commands, background ones included. */
  list(): Promise<CommandResult[]> {
    return this.#api.listCommands(this.#sessionId);
  }

  /** A handle on a background command started earlier (by id). */
  async connect(commandId: string, opts: CommandRunOptions = {}): Promise<CommandHandle> {
    const first = await this.#api.getCommand(this.#sessionId, commandId);
    return new CommandHandle(this.#api, this.#sessionId, first, opts);
  }

  /** @default signal 'SIGKILL' */
  kill(commandId: string, signal = 'SIGKILL'): Promise<CommandResult> {
    return this.#api.killCommand(this.#sessionId, commandId, signal);
  }
}
