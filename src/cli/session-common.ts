import type { Session } from '../api/sessions.js';
import { HearthError } from '../errors/hearth-error.js';
import { SessionsClient } from '../sdk/sessions-client.js';
import { printError } from './report.js';

/**
 * The sessions API the `hearth session` commands talk to: the server at HEARTH_URL (+ HEARTH_TOKEN),
 * else `http://127.0.0.1:8080`. A session outlives the command that made it, so it needs a server
 * (`hearth serve`) to live in; `hearth mcp` is the one that can also hold sessions itself.
 */
export function sessionsClient(): SessionsClient {
  return new SessionsClient({ requestTimeoutMs: 120_000 });
}

/** `--env K=V` / `--meta K=V`, repeatable, into a record. */
export function collectPairs(v: string, prev: Record<string, string>): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq < 1) throw new HearthError('VALIDATION_FAILED', `expected KEY=VALUE, got "${v}"`);
  return { ...prev, [v.slice(0, eq)]: v.slice(eq + 1) };
}

/** A positive whole number of a flag, or a VALIDATION_FAILED naming the flag. */
export function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new HearthError('VALIDATION_FAILED', `${flag} takes a positive integer`);
  return n;
}

export const pad = (s: string, n: number) => s.padEnd(n);

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function sessionHeader(): string {
  return `${pad('ID', 38)}${pad('STATE', 9)}${pad('BACKEND', 9)}${pad('IMAGE', 16)}EXPIRES\n`;
}

export function sessionLine(s: Session): string {
  const why = s.error ? `  (${s.error.code})` : '';
  return `${pad(s.id, 38)}${pad(s.state, 9)}${pad(s.backend, 9)}${pad(s.image, 16)}${s.expiresAt}${why}\n`;
}

/** A session in full, for `get`, `create`, `fork`, `pause`, `resume`, `extend`, `restore`. */
export function printSession(s: Session, json?: boolean): void {
  if (json) printJson(s);
  else {
    process.stdout.write(sessionHeader() + sessionLine(s));
    if (s.capabilities.length) process.stdout.write(`capabilities: ${s.capabilities.join(', ')}\n`);
  }
}

/** Runs a command's action: its exit code, or 2 with the error's code and hint. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) {
  return async (...args: A): Promise<void> => {
    try {
      process.exitCode = (await fn(...args)) ?? 0;
    } catch (err) {
      process.exitCode = printError(err);
    }
  };
}
