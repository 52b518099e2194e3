/**
 * The host's typed client of the interpreter contexts a guest agent runs (`repl-*` requests).
 * AgentClient checks every answer against its schema (repl-schema.ts, through guest-messages.ts):
 * a guest that sends anything else loses its connection with AGENT_PROTOCOL. Output is capped here
 * too, whatever the guest claims to have capped.
 */
import { HearthError } from '../errors/hearth-error.js';
import type { AgentClient } from './client.js';
import type { ResultValues } from './protocol.js';
import { REPL_LIMITS } from './repl-limits.js';
import type { ReplContextInfo, ReplLanguage, ReplRunResult, ReplValue } from './repl-schema.js';

export interface RunCodeOptions {
  /** Interrupt after this long (SIGINT; the interpreter is killed if that does not stop it). @default 60_000 */
  timeoutMs?: number;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  /** Environment variables for this execution only; the context's own are restored after it. */
  env?: Record<string, string>;
  /** Interrupts the execution when aborted (as its timeout would); the context lives on. */
  signal?: AbortSignal;
}

/** A run's result, with its output as gathered on the host (at most REPL_LIMITS.maxOutputBytes). */
export type RunCodeOutcome = ReplRunResult & { stdout: Buffer; stderr: Buffer };

/** Extra time the host allows past the guest's own deadlines before it gives up on the agent. */
const HOST_SLACK_MS = 10_000;
/** How long a context may take to start, as the host waits for it. */
const START_TIMEOUT_MS = REPL_LIMITS.startTimeoutMs + HOST_SLACK_MS;

export class ReplClient {
  constructor(readonly agent: AgentClient) {}

  createContext(opts: {
    language: ReplLanguage;
    cwd?: string;
    env?: Record<string, string>;
  }): Promise<ReplContextInfo> {
    checkEnv(opts.env);
    const msg = {
      type: 'repl-create' as const,
      language: opts.language,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env && Object.keys(opts.env).length ? { env: opts.env } : {}),
    };
    return this.#call('repl-create', msg, { timeoutMs: START_TIMEOUT_MS });
  }

  async runCode(contextId: string, code: string, opts: RunCodeOptions = {}): Promise<RunCodeOutcome> {
    if (code.length > REPL_LIMITS.maxCodeChars)
      throw new HearthError('PAYLOAD_TOO_LARGE', `code is over ${REPL_LIMITS.maxCodeChars} characters`);
    const timeoutMs = opts.timeoutMs ?? REPL_LIMITS.defaultTimeoutMs;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let cut = false;
    const onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      const room = REPL_LIMITS.maxOutputBytes - bytes;
      if (chunk.length > room) cut = true;
      if (room <= 0) return;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      bytes += part.length;
      (stream === 'stdout' ? stdout : stderr).push(part);
      if (stream === 'stdout') opts.onStdout?.(part);
      else opts.onStderr?.(part);
    };
    checkEnv(opts.env);
    const onAbort = () => void this.interrupt(contextId).catch(() => {});
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let result: ReplRunResult;
    try {
      if (opts.signal?.aborted)
        throw new HearthError('CANCELLED', 'the execution was cancelled before it started');
      result = await this.#call(
        'repl-run',
        { type: 'repl-run', contextId, code, timeoutMs, ...(opts.env ? { env: opts.env } : {}) },
        { timeoutMs: timeoutMs + REPL_LIMITS.interruptGraceMs + HOST_SLACK_MS, onOutput },
      );
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
    const displays = boundDisplays(result.displays);
    return {
      ...result,
      ...(result.displays ? { displays: displays.kept } : {}),
      resultTruncated: result.resultTruncated || displays.cut,
      outputTruncated: result.outputTruncated || cut,
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr),
    };
  }

  listContexts(): Promise<ReplContextInfo[]> {
    return this.#call('repl-list', { type: 'repl-list' });
  }

  /** A fresh interpreter in the same context: its variables are gone, its count starts again. */
  restartContext(contextId: string): Promise<ReplContextInfo> {
    return this.#call('repl-restart', { type: 'repl-restart', contextId }, { timeoutMs: START_TIMEOUT_MS });
  }

  async deleteContext(contextId: string): Promise<void> {
    await this.#call('repl-delete', { type: 'repl-delete', contextId });
  }

  /** Interrupts the context's running code (KeyboardInterrupt in Python); a no-op when it is idle. */
  async interrupt(contextId: string): Promise<void> {
    await this.#call('repl-interrupt', { type: 'repl-interrupt', contextId });
  }

  /** Sends a `repl-*` request, once the agent said in `hello` that it runs contexts. */
  #call<K extends keyof ResultValues>(
    kind: K,
    msg: Parameters<AgentClient['call']>[1],
    opts: Parameters<AgentClient['call']>[2] = {},
  ): Promise<ResultValues[K]> {
    if (!this.agent.info?.capabilities.includes('repl'))
      return Promise.reject(
        new HearthError('AGENT_UNKNOWN_VERSION', 'this guest agent does not run interpreter contexts'),
      );
    return this.agent.call(kind, msg, opts);
  }
}

function checkEnv(env: Record<string, string> | undefined): void {
  if (!env) return;
  const entries = Object.entries(env);
  if (entries.length > REPL_LIMITS.maxEnvVars)
    throw new HearthError('VALIDATION_FAILED', `at most ${REPL_LIMITS.maxEnvVars} environment variables`);
  for (const [k, v] of entries)
    if (
      !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ||
      typeof v !== 'string' ||
      k.length + v.length > REPL_LIMITS.maxEnvChars
    )
      throw new HearthError(
        'VALIDATION_FAILED',
        `environment variable ${k.slice(0, 64)} needs a name of letters, digits and _ and a string value`,
      );
}

/** The guest's displays up to the shared budget (each is schema-checked already; the sum is not). */
function boundDisplays(displays: ReplValue[] | undefined): { kept: ReplValue[]; cut: boolean } {
  const kept: ReplValue[] = [];
  let chars = 0;
  for (const d of displays ?? []) {
    chars += d.text.length + Object.values(d.formats).reduce((n, f) => n + (f?.length ?? 0), 0);
    if (chars > REPL_LIMITS.maxDisplayChars) return { kept, cut: true };
    kept.push(d);
  }
  return { kept, cut: false };
}
