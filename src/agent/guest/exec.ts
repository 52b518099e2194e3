/**
 * One running exec: spawned through the shim, output streamed as it arrives, watchdogs for wall
 * time, CPU time and output bytes, and one exit report at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { ExecExit, ExecLimits } from '../protocol.js';
import { decideExit, ReportReader, type ShimReport } from '../shim-report.js';
import type { ProgramUser } from './confine.js';
import { type ExecServer, ExecServerGone, type ServedShim } from './exec-server.js';
import { GuestError } from './guest-error.js';
import { ExecCgroup, type LimitSetup } from './limits.js';
import { buildShimArgs } from './shim-report.js';

export interface ExecContext {
  /** The shim binary, or undefined to spawn programs directly (no rlimits, no rusage). */
  shim: string | undefined;
  /** Runs shims without forking Node; undefined spawns one shim per exec. */
  server?: ExecServer | undefined;
  limits: LimitSetup;
  /** Who programs run as (the shim drops to it in the program's process); undefined: as the agent. */
  user?: ProgramUser | undefined;
  /** A seccomp filter file the shim loads for the program (in a microVM, where no bwrap does). */
  filter?: string | undefined;
  /** Sends output; false asks the exec to pause until `onDrain`. */
  sendOutput(channel: number, stream: 'stdout' | 'stderr', bytes: Buffer): boolean;
  onDrain(listener: () => void): void;
  sendExit(channel: number, exit: ExecExit): void;
  /** Called once the exec has sent its exit (or failed to start). */
  onDone(channel: number): void;
}

export interface ExecStart {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: 'pipe' | 'null';
  limits: ExecLimits;
}

/** What runtimes print when an allocation was refused (RLIMIT_AS gives no other sign). */
const OOM_MESSAGE =
  /MemoryError|out of memory|Cannot allocate memory|bad_alloc|Fatal process OOM|heap limit/i;
/** Bytes of stderr kept to look for OOM_MESSAGE. */
const STDERR_TAIL_BYTES = 4096;

/** After asking the shim to kill the tree, how long before the shim itself gets SIGKILL. */
const SHIM_KILL_GRACE_MS = 3000;
/** After the process exited, how long to wait for its output pipes to close. */
const PIPE_CLOSE_GRACE_MS = 2000;

/** The shim process of one exec: a ChildProcess, or a shim forked by the exec server. */
type ShimProc = Pick<ChildProcess | ServedShim, 'pid' | 'exitCode' | 'signalCode' | 'kill'> & {
  on(event: 'exit' | 'close', listener: () => void): unknown;
};

interface ShimStdio {
  stdin: Writable | null;
  stdout: Readable | null;
  stderr: Readable | null;
  report: Readable | null | undefined;
}

export class GuestExec {
  readonly #ctx: ExecContext;
  readonly #id: number;
  readonly #limits: ExecLimits;
  readonly #startedAt = performance.now();
  #child: ShimProc | undefined;
  #stdio: ShimStdio = { stdin: null, stdout: null, stderr: null, report: null };
  /** Stdin bytes (and a close, as null) that arrived before the server had started the exec. */
  #stdinQueue: Array<Buffer | null> = [];
  #pendingSignal: string | undefined;
  /** Resolves once the program runs, when the exec server starts it; undefined when started already. */
  readonly started: Promise<void> | undefined;
  #cgroup: ExecCgroup | undefined;
  #programPid: number | undefined;
  /** The shim's report, bounded: a program that writes to it can spoil it, never grow it. */
  readonly #report = new ReportReader();
  #outputBytes = 0;
  #stderrTail = '';
  #timedOut = false;
  #truncated = false;
  #killing = false;
  #finished = false;
  #timers: NodeJS.Timeout[] = [];

  constructor(ctx: ExecContext, id: number, start: ExecStart) {
    this.#ctx = ctx;
    this.#id = id;
    this.#limits = start.limits;
    const { shim, limits: setup } = ctx;
    if (setup.mechanism === 'cgroup-v2' && setup.parent)
      this.#cgroup = ExecCgroup.create(setup.parent, `${process.pid}-${id}`, start.limits);
    const stdio: Array<'pipe' | 'ignore'> = [start.stdin === 'pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    const user = ctx.user ? ['--uid', String(ctx.user.uid), '--gid', String(ctx.user.gid)] : [];
    if (ctx.filter) user.push('--seccomp', ctx.filter);
    const shimArgs = shim
      ? [...buildShimArgs(start.limits, setup.mechanism, this.#cgroup?.dir), ...user, '--', ...start.argv]
      : [];
    if (shim && ctx.server) {
      const texts = [start.cwd, ...shimArgs, ...Object.entries(start.env).flat()];
      if (texts.some((t) => t.includes('\0'))) {
        this.#cgroup?.remove();
        throw new GuestError('EXEC_FAILED', 'argv, env and cwd must not contain NUL bytes');
      }
      const served = { shimArgs, cwd: start.cwd, env: start.env, stdinPipe: start.stdin === 'pipe' };
      this.started = ctx.server.launch(served).then(
        (proc) => this.#attach(proc, proc),
        (err: Error) => {
          if (err instanceof ExecServerGone) return this.#spawn(shim, shimArgs, start, stdio);
          this.#cgroup?.remove();
          throw new GuestError('EXEC_FAILED', err.message);
        },
      );
      return;
    }
    this.#spawn(shim, shimArgs, start, stdio);
  }

  #spawn(
    shim: string | undefined,
    shimArgs: string[],
    start: ExecStart,
    stdio: Array<'pipe' | 'ignore'>,
  ): void {
    let child: ChildProcess;
    try {
      if (shim) {
        child = spawn(shim, shimArgs, { cwd: start.cwd, env: start.env, stdio: [...stdio, 'pipe'] });
      } else {
        const [file, ...args] = start.argv as [string, ...string[]];
        const as = this.#ctx.user ?? {};
        child = spawn(file, args, { cwd: start.cwd, env: start.env, stdio, detached: true, ...as });
      }
    } catch (err) {
      this.#cgroup?.remove();
      throw new GuestError('EXEC_FAILED', (err as Error).message);
    }
    if (child.pid === undefined) {
      // Spawn failed; Node reports why in an 'error' event on the next tick.
      child.on('error', () => {});
      this.#cgroup?.remove();
      throw new GuestError('EXEC_FAILED', `cannot start ${start.argv[0]}`);
    }
    if (!shim) this.#programPid = child.pid;
    child.on('error', (err) => process.stderr.write(`hearth-agent: exec ${this.#id}: ${err.message}\n`));
    const [stdin, stdout, stderr, report] = child.stdio;
    this.#attach(child, { stdin, stdout, stderr, report: report as Readable | null | undefined });
  }

  /** The shim's pid (the program's when there is no shim); 0 until started. */
  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  #attach(child: ShimProc, stdio: ShimStdio): void {
    this.#child = child;
    this.#stdio = stdio;
    const limits = this.#limits;
    stdio.stdin?.on('error', () => {});
    this.#pipeOutput(stdio.stdout as Readable, 'stdout');
    this.#pipeOutput(stdio.stderr as Readable, 'stderr');
    stdio.report?.on('data', (chunk: Buffer) => {
      this.#report.push(chunk);
      if (this.#report.pid !== undefined && this.#programPid === undefined)
        this.#programPid = this.#report.pid;
    });
    if (limits.timeoutMs !== undefined && limits.timeoutMs > 0)
      this.#timers.push(setTimeout(() => this.#watchdogFired(), limits.timeoutMs));
    const cg = this.#cgroup;
    const cpuLimit = limits.cpuTimeMs;
    if (cg && cpuLimit !== undefined)
      this.#timers.push(setInterval(() => cg.cpuMs() > cpuLimit && this.#watchdogFired(), 100));
    child.on('exit', () => {
      this.#timers.push(setTimeout(() => this.#finish(), PIPE_CLOSE_GRACE_MS));
    });
    child.on('close', () => this.#finish());
    for (const bytes of this.#stdinQueue.splice(0)) bytes ? this.writeStdin(bytes) : this.closeStdin();
    if (this.#pendingSignal) this.signal(this.#pendingSignal);
  }

  #pipeOutput(stream: Readable, name: 'stdout' | 'stderr'): void {
    stream.on('data', (chunk: Buffer) => {
      if (name === 'stderr' && this.#limits.memoryMb !== undefined)
        this.#stderrTail = (this.#stderrTail + chunk.toString('latin1')).slice(-STDERR_TAIL_BYTES);
      if (this.#truncated) return;
      const cap = this.#limits.maxOutputBytes;
      if (cap !== undefined && this.#outputBytes + chunk.length > cap) {
        const room = cap - this.#outputBytes;
        if (room > 0) this.#ctx.sendOutput(this.#id, name, chunk.subarray(0, room));
        this.#outputBytes = cap;
        this.#truncated = true;
        this.kill();
        return;
      }
      this.#outputBytes += chunk.length;
      if (!this.#ctx.sendOutput(this.#id, name, chunk)) {
        this.#stdio.stdout?.pause();
        this.#stdio.stderr?.pause();
        this.#ctx.onDrain(() => {
          this.#stdio.stdout?.resume();
          this.#stdio.stderr?.resume();
        });
      }
    });
  }

  #watchdogFired(): void {
    if (this.#finished || this.#timedOut) return;
    this.#timedOut = true;
    this.kill();
  }

  writeStdin(bytes: Buffer): void {
    if (!this.#child) return void this.#stdinQueue.push(bytes);
    const stdin = this.#stdio.stdin;
    if (stdin && !stdin.destroyed && !stdin.writableEnded) stdin.write(bytes);
  }

  closeStdin(): void {
    if (!this.#child) return void this.#stdinQueue.push(null);
    this.#stdio.stdin?.end();
  }

  /** Delivers a signal: SIGKILL kills the whole tree, others go to the program's process group. */
  signal(name: string): void {
    if (!(name in osConstants.signals)) throw new GuestError('BAD_REQUEST', `unknown signal ${name}`);
    if (this.#finished) return;
    if (!this.#child) {
      if (this.#pendingSignal !== 'SIGKILL') this.#pendingSignal = name;
      return;
    }
    if (name === 'SIGKILL' || this.#programPid === undefined) {
      this.kill();
      return;
    }
    try {
      process.kill(-this.#programPid, name as NodeJS.Signals);
    } catch {}
  }

  /** Kills the whole process tree (idempotent). */
  kill(): void {
    if (this.#killing || this.#finished) return;
    const child = this.#child;
    if (!child) {
      this.#pendingSignal = 'SIGKILL';
      return;
    }
    this.#killing = true;
    if (!this.#ctx.shim) {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {}
      return;
    }
    // The shim answers SIGTERM by SIGKILLing every descendant, then reports and exits.
    child.kill('SIGTERM');
    this.#timers.push(
      setTimeout(() => {
        if (this.#programPid !== undefined)
          try {
            process.kill(-this.#programPid, 'SIGKILL');
          } catch {}
        child.kill('SIGKILL');
      }, SHIM_KILL_GRACE_MS),
    );
  }

  /** Best effort: RLIMIT_AS makes allocations fail, and the program dies its own way. */
  #rlimitOom(report: ShimReport | undefined, exitCode: number | null, signal: string | null): boolean {
    if (this.#limits.memoryMb === undefined) return false;
    if (report?.asLimitHit) return true;
    const failed = (exitCode !== null && exitCode !== 0) || (signal !== null && signal !== 'SIGKILL');
    return failed && OOM_MESSAGE.test(this.#stderrTail);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    for (const t of this.#timers) clearTimeout(t);
    const child = this.#child as ShimProc;
    const io = this.#stdio;
    for (const s of [io.stdin, io.stdout, io.stderr, io.report]) s?.destroy();
    this.#report.end();
    const report = this.#report.malformed === undefined ? this.#report.final : undefined;
    const cg = this.#cgroup;
    const cpuTimeMs = Math.max(report?.cpuTimeMs ?? 0, cg?.cpuMs() ?? 0);
    // The shim's own status (our waitpid, or the exec server's) outranks its report, which the
    // program may have reached; unknown only when the exec server died with it.
    const shimKnown = child.exitCode !== null || child.signalCode !== null;
    const { exitCode, signal } =
      this.#ctx.shim && shimKnown
        ? decideExit({ shim: { exitCode: child.exitCode, signal: child.signalCode }, program: report })
        : {
            exitCode: report ? report.exitCode : child.exitCode,
            signal: report ? report.signal : child.signalCode,
          };
    const cpuLimit = this.#limits.cpuTimeMs;
    const cpuKilled =
      signal === 'SIGXCPU' || (cpuLimit !== undefined && signal === 'SIGKILL' && cpuTimeMs >= cpuLimit);
    const exit: ExecExit = {
      exitCode: exitCode ?? null,
      signal: signal ?? null,
      timedOut: this.#timedOut || cpuKilled,
      truncated: this.#truncated,
      outOfMemory: cg ? cg.oomKilled() : this.#rlimitOom(report, exitCode ?? null, signal ?? null),
      cpuTimeMs,
      wallTimeMs: Math.round(performance.now() - this.#startedAt),
      peakMemoryKb: cg?.peakKb() ?? report?.peakMemoryKb ?? 0,
    };
    cg?.remove();
    this.#ctx.sendExit(this.#id, exit);
    this.#ctx.onDone(this.#id);
  }
}
