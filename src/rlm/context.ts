/**
 * Puts a run's context into its session: written as a file in the sandbox and read into the REPL
 * variable `context` there — the model's prompt never carries it, however large it is.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { HearthError } from '../errors/hearth-error.js';
import type { RlmSessions } from './sessions-port.js';

export interface LoadedContext {
  /** Where it is in the sandbox. */
  path: string;
  /** What the model is told of it: its type and size. */
  description: string;
}

export type ContextSource =
  | { kind: 'text'; text: string }
  | { kind: 'json'; value: unknown }
  | { kind: 'file'; path: string; allowedUnder?: string }
  /** Already read (a file checked before the run was answered). */
  | { kind: 'read'; bytes: Buffer; json: boolean };

/** The largest context file read from the host. @default 256 MiB */
const MAX_CONTEXT_BYTES = 256 * 1024 * 1024;
const DIR = '/work/rlm';

/** The request's context as a source: a string is text, anything else is JSON. */
export function contextSource(
  req: { context?: unknown; contextFile?: string },
  allowedUnder?: string,
): ContextSource {
  if (req.contextFile !== undefined) {
    return { kind: 'file', path: req.contextFile, ...(allowedUnder !== undefined ? { allowedUnder } : {}) };
  }
  if (typeof req.context === 'string') return { kind: 'text', text: req.context };
  return { kind: 'json', value: req.context ?? '' };
}

async function readHostFile(path: string, allowedUnder?: string): Promise<Buffer> {
  const refuse = (why: string) => new HearthError('RLM_CONTEXT_FILE_REFUSED', `contextFile ${path}: ${why}`);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw refuse('no such file');
  }
  if (allowedUnder !== undefined) {
    const under = await realpath(allowedUnder).catch(() => resolve(allowedUnder));
    const rel = relative(under, real);
    if (rel.startsWith('..') || isAbsolute(rel)) throw refuse(`not under ${allowedUnder}`);
  }
  const st = await stat(real);
  if (!st.isFile()) throw refuse('not a regular file');
  if (st.size > MAX_CONTEXT_BYTES) throw refuse(`over ${MAX_CONTEXT_BYTES} bytes`);
  return readFile(real);
}

/** Checks a file source before a session is made for it (so a refusal costs no sandbox). */
export async function readContext(src: ContextSource): Promise<{ bytes: Buffer; json: boolean }> {
  if (src.kind === 'file') return { bytes: await readHostFile(src.path, src.allowedUnder), json: false };
  if (src.kind === 'text') return { bytes: Buffer.from(src.text), json: false };
  if (src.kind === 'read') return { bytes: src.bytes, json: src.json };
  return { bytes: Buffer.from(JSON.stringify(src.value)), json: true };
}

export async function loadContext(o: {
  sessions: RlmSessions;
  sessionId: string;
  bytes: Buffer;
  json: boolean;
  timeoutMs: number;
}): Promise<LoadedContext> {
  const path = `${DIR}/context.${o.json ? 'json' : 'txt'}`;
  await o.sessions.makeDir(o.sessionId, DIR).catch(() => {});
  await o.sessions.writeFile(o.sessionId, path, o.bytes);
  const read = o.json
    ? `import json\nwith open(${JSON.stringify(path)}) as _f:\n    context = json.load(_f)`
    : `with open(${JSON.stringify(path)}, encoding="utf-8", errors="replace") as _f:\n    context = _f.read()`;
  const r = await o.sessions.runCode(o.sessionId, {
    code: `${read}\ndel _f\nprint(type(context).__name__, len(context) if hasattr(context, "__len__") else "")`,
    language: 'python',
    timeoutMs: o.timeoutMs,
  });
  if (r.error || r.timedOut) {
    throw new HearthError(
      'SANDBOX_START_FAILED',
      `the context could not be loaded into the REPL: ${r.error?.value ?? 'timed out'}`,
    );
  }
  // Printed by the sandbox: only a short type name and a number are taken from it.
  const [type, len] = r.stdout.trim().split(' ');
  const safeType = /^[A-Za-z_]{1,32}$/.test(type ?? '') ? type : 'value';
  const safeLen = /^[0-9]{1,15}$/.test(len ?? '') ? len : 'unknown';
  return { path, description: `a Python ${safeType} of length ${safeLen}` };
}
