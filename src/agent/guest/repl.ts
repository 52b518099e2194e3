/**
 * The agent's interpreter contexts: checks each `repl-*` request and serves it from a ReplContext.
 * Drivers sit beside agent.js (repl-python.py, repl-node.js): in the tools layer at /.hearth, or
 * in dist/ when the agent runs from a checkout.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { GUEST_CALL_LIMITS as C } from '../guest-calls.js';
import type { HostMessage } from '../protocol.js';
import { REPL_LIMITS as L } from '../repl-limits.js';
import type { ReplContextInfo, ReplLanguage, ReplRunResult } from '../repl-schema.js';
import { GuestError } from './guest-error.js';
import { ReplContext, type ReplContextDeps } from './repl-context.js';

type Msg<T extends string> = Extract<HostMessage, { type: T }>;

export interface GuestReplOptions {
  workDir: string;
  /** The sandbox's base environment (PATH, HOME, LANG …). */
  baseEnv: Record<string, string>;
  sendOutput: ReplContextDeps['sendOutput'];
  onDrain: ReplContextDeps['onDrain'];
  call: ReplContextDeps['call'];
  runEnded: ReplContextDeps['runEnded'];
  /** The uid and gid interpreters run as (a microVM's program user); undefined: the agent's own. */
  user?: ReplContextDeps['user'];
}

export class GuestRepl {
  readonly #contexts = new Map<string, ReplContext>();
  readonly #deps: ReplContextDeps;
  readonly #workDir: string;

  constructor(opts: GuestReplOptions) {
    const here = dirname(process.argv[1] ?? '.');
    this.#workDir = opts.workDir;
    this.#deps = {
      sendOutput: opts.sendOutput,
      onDrain: opts.onDrain,
      call: opts.call,
      runEnded: opts.runEnded,
      ...(opts.user ? { user: opts.user } : {}),
      command: {
        python: ['python3', '-u', join(here, 'repl-python.py')],
        javascript: [process.execPath, '--expose-internals', join(here, 'repl-node.js')],
      },
      env: {
        ...opts.baseEnv,
        // Figures render off-screen; matplotlib's cache stays out of the work dir.
        MPLBACKEND: 'Agg',
        MPLCONFIGDIR: '/tmp/.hearth-matplotlib',
        HEARTH_REPL_CAPS: JSON.stringify({
          'text/plain': L.maxTextChars,
          'text/html': L.maxHtmlChars,
          'image/png': L.maxPngBase64Chars,
          'application/json': L.maxJsonChars,
          error: L.maxErrorTextChars,
          displays: L.maxDisplays,
          displayChars: L.maxDisplayChars,
          promptChars: C.maxPromptChars,
          callChars: C.maxCallChars,
          batchPrompts: C.maxBatchPrompts,
        }),
      },
    };
  }

  async create(msg: Msg<'repl-create'>): Promise<ReplContextInfo> {
    const language = msg.language as unknown;
    if (language !== 'python' && language !== 'javascript')
      throw new GuestError('BAD_REQUEST', 'language must be python or javascript');
    if (msg.cwd !== undefined && typeof msg.cwd !== 'string')
      throw new GuestError('BAD_REQUEST', 'cwd must be a string');
    const cwd =
      msg.cwd === undefined ? this.#workDir : isAbsolute(msg.cwd) ? msg.cwd : resolve(this.#workDir, msg.cwd);
    if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory())
      throw new GuestError('FILE_NOT_FOUND', `working directory ${msg.cwd} does not exist`);
    if (this.#contexts.size >= L.maxContexts)
      throw new GuestError('REPL_CONTEXT_LIMIT', `a sandbox holds at most ${L.maxContexts} contexts`);
    const env = checkEnv(msg.env);
    // The context's own variables over the sandbox's; the driver's caps stay the agent's.
    const deps = env
      ? {
          ...this.#deps,
          env: { ...this.#deps.env, ...env, HEARTH_REPL_CAPS: this.#deps.env.HEARTH_REPL_CAPS ?? '{}' },
        }
      : this.#deps;
    const ctx = new ReplContext(`ctx-${randomBytes(8).toString('hex')}`, language as ReplLanguage, cwd, deps);
    this.#contexts.set(ctx.id, ctx);
    try {
      await ctx.start();
    } catch (err) {
      this.#contexts.delete(ctx.id);
      throw err;
    }
    return ctx.info();
  }

  run(msg: Msg<'repl-run'>): Promise<ReplRunResult> {
    const ctx = this.#get(msg.contextId);
    if (typeof msg.code !== 'string') throw new GuestError('BAD_REQUEST', 'code must be a string');
    if (msg.code.length > L.maxCodeChars)
      throw new GuestError('PAYLOAD_TOO_LARGE', `code is over ${L.maxCodeChars} characters`);
    const t = msg.timeoutMs ?? L.defaultTimeoutMs;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > L.maxTimeoutMs)
      throw new GuestError('BAD_REQUEST', `timeoutMs must be a number in (0, ${L.maxTimeoutMs}]`);
    return ctx.run(msg.id, msg.code, t, checkEnv(msg.env));
  }

  list(): ReplContextInfo[] {
    return [...this.#contexts.values()].map((c) => c.info());
  }

  async restart(msg: Msg<'repl-restart'>): Promise<ReplContextInfo> {
    const ctx = this.#get(msg.contextId);
    await ctx.start();
    return ctx.info();
  }

  async delete(msg: Msg<'repl-delete'>): Promise<null> {
    const ctx = this.#get(msg.contextId);
    this.#contexts.delete(ctx.id);
    await ctx.kill();
    return null;
  }

  interrupt(msg: Msg<'repl-interrupt'>): null {
    this.#get(msg.contextId).interrupt();
    return null;
  }

  /** Kills every interpreter (shutdown, or the host went away). */
  killAll(): void {
    for (const ctx of this.#contexts.values()) void ctx.kill();
    this.#contexts.clear();
  }

  #get(id: unknown): ReplContext {
    const ctx = typeof id === 'string' ? this.#contexts.get(id) : undefined;
    if (!ctx) throw new GuestError('REPL_CONTEXT_NOT_FOUND', `no context ${String(id).slice(0, 64)}`);
    return ctx;
  }
}

/** A run's `env`: an object of at most maxEnvVars string values under shell-safe names. */
function checkEnv(env: unknown): Record<string, string> | undefined {
  if (env === undefined) return undefined;
  if (typeof env !== 'object' || env === null || Array.isArray(env))
    throw new GuestError('BAD_REQUEST', 'env must be an object of strings');
  const entries = Object.entries(env as Record<string, unknown>);
  if (entries.length > L.maxEnvVars)
    throw new GuestError('BAD_REQUEST', `env holds at most ${L.maxEnvVars} variables`);
  for (const [k, v] of entries)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string' || k.length + v.length > L.maxEnvChars)
      throw new GuestError('BAD_REQUEST', 'env names are letters, digits and _; values are short strings');
  return env as Record<string, string>;
}
