/**
 * One interpreter context inside the sandbox: a long-lived python3 or node process running a
 * driver (repl-python.py, repl-node.js), fed code on fd 3, answering on fd 4. Its stdout and stderr
 * are the current run's output, bounded; whatever it answers is re-checked and cut to REPL_LIMITS
 * here, since the program can write to fd 4 itself. While code runs, the driver may also ask on
 * fd 4 (`{"call": n, "method", "params"}`: llm_query and its kin); the agent forwards the call to
 * the host and writes the answer back on fd 3 (`{"call": n, "ok", "value" | "error"}`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { REPL_LIMITS } from '../repl-limits.js';
import type { ReplContextInfo, ReplLanguage, ReplRunResult } from '../repl-schema.js';
import { GuestError } from './guest-error.js';
import { sanitizeAnswer } from './repl-answer.js';

export interface ReplContextDeps {
  /** Forwards output on a channel; false when the host is slow (wait for `onDrain`). */
  sendOutput(channel: number, stream: 'stdout' | 'stderr', bytes: Buffer): boolean;
  onDrain(listener: () => void): void;
  /** Forwards a call of the running code to the host (see calls.ts); rejects with what the code sees. */
  call(channel: number, method: unknown, params: unknown): Promise<string | string[]>;
  /** The run on `channel` ended: its calls still waiting are dropped. */
  runEnded(channel: number): void;
  /** argv of the interpreter for each language, driver included. */
  command: Record<ReplLanguage, string[]>;
  env: Record<string, string>;
  /**
   * The uid and gid the interpreter runs as. In a microVM the agent is root and user code is not:
   * an interpreter running as root could take over the agent and its channel to the host.
   */
  user?: { uid: number; gid: number };
}

/**
 * Longest line accepted from a driver (an answer, or a call of up to GUEST_CALL_LIMITS.maxCallChars
 * characters with JSON's escapes); past it the context is killed.
 */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
/** Call answers written to a driver that has not read them yet; past it the context is killed. */
const MAX_REPLY_BACKLOG_BYTES = 64 * 1024 * 1024;

type Answer = { line: Record<string, unknown> } | { exited: string };

interface CurrentRun {
  channel: number;
  bytes: number;
  truncated: boolean;
}

export class ReplContext {
  #child: ChildProcess | undefined;
  #count = 0;
  #busy = false;
  #dead = true;
  #pending = '';
  #waiter: ((a: Answer) => void) | undefined;
  #awaiting: number | 'ready' | undefined;
  #run: CurrentRun | undefined;
  /** Numbers the runs; an answer counts only with the current run's seq. */
  #seq = 0;
  #startErr = '';
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly language: ReplLanguage,
    readonly cwd: string,
    private readonly deps: ReplContextDeps,
  ) {}

  info(): ReplContextInfo {
    const state = this.#dead ? 'dead' : this.#busy ? 'busy' : 'idle';
    const pid = this.#dead ? 0 : (this.#child?.pid ?? 0);
    return {
      contextId: this.id,
      language: this.language,
      cwd: this.cwd,
      executionCount: this.#count,
      state,
      pid,
    };
  }

  /** Starts a fresh interpreter (the count starts again) and waits until its driver is ready. */
  async start(): Promise<void> {
    await this.kill();
    this.#count = 0;
    this.#pending = '';
    this.#startErr = '';
    const [cmd, ...args] = this.deps.command[this.language] as [string, ...string[]];
    const child = spawn(cmd, args, {
      cwd: this.cwd,
      env: this.deps.env,
      ...(this.deps.user ? { uid: this.deps.user.uid, gid: this.deps.user.gid } : {}),
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      // Its own process group: an interrupt or kill reaches `!cmd` children too.
      detached: true,
    });
    this.#child = child;
    this.#dead = false;
    this.#exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        if (this.#child === child) {
          this.#dead = true;
          this.#settle({ exited: signal ? `signal ${signal}` : `exit code ${code}` });
        }
        resolve();
      }),
    );
    const spawnError = new Promise<Answer>((resolve) =>
      child.once('error', (err) => resolve({ exited: err.message })),
    );
    (child.stdout as Readable).on('data', (b: Buffer) => this.#output('stdout', b));
    (child.stderr as Readable).on('data', (b: Buffer) => this.#output('stderr', b));
    (child.stdio[4] as Readable).on('data', (b: Buffer) => this.#answerBytes(b));
    (child.stdio[3] as Writable).on('error', () => {});
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Answer>((resolve) => {
      timer = setTimeout(() => resolve({ exited: 'no answer in time' }), REPL_LIMITS.startTimeoutMs);
    });
    const first = await Promise.race([this.#nextAnswer('ready'), spawnError, timeout]);
    clearTimeout(timer);
    if ('line' in first && first.line.ready === true) return;
    await this.kill();
    const why = 'exited' in first ? first.exited : 'an unexpected first answer';
    throw new GuestError(
      'EXEC_FAILED',
      `the ${this.language} interpreter (${cmd}) did not start: ${why}${this.#startErr ? `: ${this.#startErr.slice(-1000)}` : ''}`,
    );
  }

  /** Runs code; output goes to `channel` as it comes. On timeout: SIGINT, then SIGKILL after a grace. */
  async run(
    channel: number,
    code: string,
    timeoutMs: number,
    env?: Record<string, string>,
  ): Promise<ReplRunResult> {
    if (this.#dead)
      throw new GuestError(
        'REPL_CONTEXT_DEAD',
        `context ${this.id} has no interpreter: restart or delete it`,
      );
    if (this.#busy) throw new GuestError('REPL_CONTEXT_BUSY', `context ${this.id} is running other code`);
    this.#busy = true;
    this.#count++;
    const run: CurrentRun = { channel, bytes: 0, truncated: false };
    this.#run = run;
    let timedOut = false;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      this.interrupt();
      killTimer = setTimeout(() => {
        killed = true;
        void this.kill();
      }, REPL_LIMITS.interruptGraceMs);
    }, timeoutMs);
    const seq = ++this.#seq;
    const answer = this.#nextAnswer(seq);
    (this.#child?.stdio[3] as Writable | undefined)?.write(
      `${JSON.stringify({ seq, code, ...(env ? { env } : {}) })}\n`,
    );
    const got = await answer;
    clearTimeout(timer);
    clearTimeout(killTimer);
    this.deps.runEnded(channel);
    // The driver flushed its output before answering: let the pipes' last bytes arrive first.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    this.#run = undefined;
    this.#busy = false;
    const base = { executionCount: this.#count, timedOut, outputTruncated: run.truncated };
    if ('line' in got) return { ...base, contextLost: false, ...sanitizeAnswer(got.line) };
    const value = killed
      ? `the execution passed its ${timeoutMs} ms timeout and did not stop on SIGINT: the ${this.language} interpreter was killed and its state is lost`
      : `the ${this.language} interpreter ended (${got.exited}): its state is lost`;
    return {
      ...base,
      contextLost: true,
      resultTruncated: false,
      error: { name: killed ? 'TimeoutError' : 'ContextLost', value, traceback: '' },
    };
  }

  /** SIGINT to the interpreter's group while it runs code (a KeyboardInterrupt in Python). */
  interrupt(): void {
    const pid = this.#child?.pid;
    if (!this.#busy || this.#dead || !pid) return;
    try {
      process.kill(-pid, 'SIGINT');
    } catch {}
  }

  /** Kills the interpreter and its group; waits (bounded) until it is reaped. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child?.pid) return;
    this.#dead = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    await Promise.race([this.#exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  #output(stream: 'stdout' | 'stderr', bytes: Buffer): void {
    const run = this.#run;
    if (!run) {
      // Between runs: kept only as the reason a start failed.
      this.#startErr = (this.#startErr + bytes.toString('utf8')).slice(-4096);
      return;
    }
    const room = REPL_LIMITS.maxOutputBytes - run.bytes;
    if (bytes.length > room) run.truncated = true;
    if (room <= 0) return;
    const part = bytes.length > room ? bytes.subarray(0, room) : bytes;
    run.bytes += part.length;
    if (!this.deps.sendOutput(run.channel, stream, part)) {
      const out = [this.#child?.stdout, this.#child?.stderr] as Readable[];
      for (const s of out) s?.pause();
      this.deps.onDrain(() => {
        for (const s of out) s?.resume();
      });
    }
  }

  #answerBytes(bytes: Buffer): void {
    this.#pending += bytes.toString('utf8');
    let nl = this.#pending.indexOf('\n');
    while (nl >= 0) {
      const line = this.#pending.slice(0, nl);
      this.#pending = this.#pending.slice(nl + 1);
      try {
        const parsed = JSON.parse(line) as unknown;
        const obj = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
        const tag = obj.ready === true ? 'ready' : obj.seq;
        if (typeof obj.call === 'number') this.#call(obj);
        else if (tag === this.#awaiting) this.#settle({ line: obj });
      } catch {
        // Not the driver's: the program wrote to fd 4 itself. Ignored.
      }
      nl = this.#pending.indexOf('\n');
    }
    if (this.#pending.length > MAX_ANSWER_BYTES) {
      this.#pending = '';
      void this.kill();
    }
  }

  /**
   * A call from the running code. Its answer goes back on fd 3 only while that run lasts: after
   * it the driver reads fd 3 for code, and a late answer is dropped. A call between runs (from a
   * thread the code left behind) is answered with an error at once, so that it does not wait forever.
   */
  #call(line: Record<string, unknown>): void {
    const run = this.#run;
    const n = line.call;
    if (!Number.isSafeInteger(n)) return;
    const reply = (answer: Record<string, unknown>): void => {
      if (this.#run !== run || this.#dead) return;
      const requests = this.#child?.stdio[3] as Writable | undefined;
      // A program that floods calls and never reads their answers would grow this backlog
      // without end: past the cap the interpreter is killed, as for an oversize answer line.
      if (requests && requests.writableLength > MAX_REPLY_BACKLOG_BYTES) {
        void this.kill();
        return;
      }
      requests?.write(`${JSON.stringify({ call: n, ...answer })}\n`);
    };
    if (!run) {
      reply({ ok: false, error: 'no code is running in this context: a call must come from a run' });
      return;
    }
    this.deps.call(run.channel, line.method, line.params).then(
      (value) => reply({ ok: true, value }),
      (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  }

  /** The next answer tagged `tag` (a run's seq, or 'ready'), or the interpreter's end. */
  #nextAnswer(tag: number | 'ready'): Promise<Answer> {
    this.#awaiting = tag;
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  #settle(a: Answer): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    this.#awaiting = undefined;
    w?.(a);
  }
}
