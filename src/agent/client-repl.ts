/**
 * The host's typed client of the interpreter contexts a guest agent runs (`repl-*` requests).
 * Every value the guest returns is checked against its TypeBox schema (repl-schema.ts) before it
 * is believed; a guest that sends something else loses its connection (AGENT_PROTOCOL). Output is
 * capped here too, whatever the guest claims to have capped.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { HearthError } from '../errors/hearth-error.js';
import type { AgentClient } from './client.js';
import { REPL_LIMITS } from './repl-limits.js';
import {
  REPL_RESULT_SCHEMAS,
  type ReplContextInfo,
  type ReplLanguage,
  type ReplRunResult,
} from './repl-schema.js';

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

export class ReplClient {
  constructor(readonly agent: AgentClient) {}

  async createContext(opts: { language: ReplLanguage; cwd?: string }): Promise<ReplContextInfo> {
    const msg = {
      type: 'repl-create' as const,
      language: opts.language,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    };
    const timeoutMs = REPL_LIMITS.startTimeoutMs + HOST_SLACK_MS;
    return this.#checked('repl-create', await this.#call('repl-create', msg, { timeoutMs }));
  }

  async runCode(contextId: string, code: string, opts: RunCodeOptions = {}): Promise<RunCodeOutcome> {
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
    const value = await this.#call(
      'repl-run',
      { type: 'repl-run', contextId, code, timeoutMs },
      { timeoutMs: timeoutMs + REPL_LIMITS.interruptGraceMs + HOST_SLACK_MS, onOutput },
    );
    const result = this.#checked('repl-run', value);
    return {
      ...result,
      outputTruncated: result.outputTruncated || cut,
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr),
    };
  }

  async listContexts(): Promise<ReplContextInfo[]> {
    return this.#checked('repl-list', await this.#call('repl-list', { type: 'repl-list' }));
  }

  /** A fresh interpreter in the same context: its variables are gone, its count starts again. */
  async restartContext(contextId: string): Promise<ReplContextInfo> {
    const timeoutMs = REPL_LIMITS.startTimeoutMs + HOST_SLACK_MS;
    const value = await this.#call('repl-restart', { type: 'repl-restart', contextId }, { timeoutMs });
    return this.#checked('repl-restart', value);
  }

  async deleteContext(contextId: string): Promise<void> {
    this.#checked('repl-delete', await this.#call('repl-delete', { type: 'repl-delete', contextId }));
  }

  /** Interrupts the context's running code (KeyboardInterrupt in Python); a no-op when it is idle. */
  async interrupt(contextId: string): Promise<void> {
    this.#checked(
      'repl-interrupt',
      await this.#call('repl-interrupt', { type: 'repl-interrupt', contextId }),
    );
  }

  /** Sends a `repl-*` request, once the agent said in `hello` that it runs contexts. */
  #call(...args: Parameters<AgentClient['call']>): Promise<unknown> {
    if (!this.agent.info?.capabilities.includes('repl'))
      return Promise.reject(
        new HearthError('AGENT_UNKNOWN_VERSION', 'this guest agent does not run interpreter contexts'),
      );
    return this.agent.call(...args);
  }

  #checked<K extends keyof typeof REPL_RESULT_SCHEMAS>(
    kind: K,
    value: unknown,
  ): Static<(typeof REPL_RESULT_SCHEMAS)[K]> {
    const schema: TSchema = REPL_RESULT_SCHEMAS[kind];
    if (Value.Check(schema, value)) return value as Static<(typeof REPL_RESULT_SCHEMAS)[K]>;
    const first = Value.Errors(schema, value).First();
    void this.agent.close();
    throw new HearthError(
      'AGENT_PROTOCOL',
      `the agent's ${kind} answer does not match its schema${first ? ` at ${first.path || '/'}: ${first.message}` : ''}`,
    );
  }
}
