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
import type { ReplContextInfo, ReplLanguage, ReplRunResult } from './repl-schema.js';

export interface RunCodeOptions {
  /** Interrupt after this long (SIGINT; the interpreter is killed if that does not stop it). @default 60_000 */
  timeoutMs?: number;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
}

/** A run's result, with its output as gathered on the host (at most REPL_LIMITS.maxOutputBytes). */
export type RunCodeOutcome = ReplRunResult & { stdout: Buffer; stderr: Buffer };

/** Extra time the host allows past the guest's own deadlines before it gives up on the agent. */
const HOST_SLACK_MS = 10_000;
/** How long a context may take to start, as the host waits for it. */
const START_TIMEOUT_MS = REPL_LIMITS.startTimeoutMs + HOST_SLACK_MS;

export class ReplClient {
  constructor(readonly agent: AgentClient) {}

  createContext(opts: { language: ReplLanguage; cwd?: string }): Promise<ReplContextInfo> {
    const msg = {
      type: 'repl-create' as const,
      language: opts.language,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
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
    const result = await this.#call(
      'repl-run',
      { type: 'repl-run', contextId, code, timeoutMs },
      { timeoutMs: timeoutMs + REPL_LIMITS.interruptGraceMs + HOST_SLACK_MS, onOutput },
    );
    return {
      ...result,
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
