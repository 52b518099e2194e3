/**
 * hearth's JavaScript interpreter context, bundled to repl-node.js and run by the guest agent with
 * the tools layer's Node (`node --expose-internals repl-node.js`). Same pipe protocol as
 * repl-python.py: requests `{seq, code}` on fd 3, answers on fd 4 (with the request's `seq`), one
 * JSON object per line; the program's stdout and stderr are the run's output. A request's `env`
 * holds variables for that run only: process.env has its old values back after it.
 *
 * Code runs as a vm.Script in one vm context, so `let`/`const` bindings persist across runs and the
 * completion value of the last statement is the result. Top-level `await` is rewritten the way
 * Node's own REPL does it (internal/repl/await: the Node binary is the one shipped in the tools
 * layer, so its internals are the ones this was built against). `breakOnSigint` lets a SIGINT stop
 * a busy loop without losing the context; a SIGINT while an awaited promise hangs ends that run.
 *
 * `llm_query`, `llm_query_batched` and `rlm_query` (globals of the context, see repl-node-calls.ts)
 * ask the host and return Promises: a call line goes out on fd 4 and its answer comes back on fd 3
 * between the requests, so fd 3 is read line by line and answers are told from code by `call`.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { inspect } from 'node:util';
import { createContext, Script } from 'node:vm';
import { installCalls } from './repl-node-calls.js';

const ANSWERS_FD = 4;
const caps = JSON.parse(process.env.HEARTH_REPL_CAPS ?? '{}') as Record<string, number>;
delete process.env.HEARTH_REPL_CAPS;

interface Answer {
  executionCount: number;
  result?: { text: string; formats: Record<string, string> };
  error?: { name: string; value: string; traceback: string };
  truncated?: boolean;
}

type Rewrite = (code: string) => string | null;

function loadAwaitRewrite(): Rewrite | undefined {
  try {
    // Through a variable, so the bundler leaves it to Node (it needs --expose-internals).
    const id = ['internal', 'repl', 'await'].join('/');
    return (createRequire(join(process.cwd(), '[context].js'))(id) as { processTopLevelAwait: Rewrite })
      .processTopLevelAwait;
  } catch {
    return undefined;
  }
}

const rewriteAwait = loadAwaitRewrite();

const GLOBALS = [
  'Buffer',
  'URL',
  'URLSearchParams',
  'TextEncoder',
  'TextDecoder',
  'AbortController',
  'AbortSignal',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
  'clearImmediate',
  'queueMicrotask',
  'structuredClone',
  'atob',
  'btoa',
  'fetch',
  'performance',
  'crypto',
  'process',
] as const;

const sandbox: Record<string, unknown> = {};
for (const name of GLOBALS)
  if (name in globalThis) sandbox[name] = (globalThis as Record<string, unknown>)[name];
sandbox.console = console;
sandbox.require = createRequire(join(process.cwd(), '[context].js'));
const calls = installCalls(sandbox, {
  caps,
  write: answer,
});
const context = createContext(sandbox);
(context as Record<string, unknown>).global = context;

// A rejected promise nobody awaited, or a throw from a timer, must not end the context.
process.on(
  'unhandledRejection',
  (err) => void process.stderr.write(`Unhandled rejection: ${inspect(err)}\n`),
);
process.on('uncaughtException', (err) => void process.stderr.write(`Uncaught ${inspect(err)}\n`));

let count = 0;
let pending: ((a: Answer) => void) | undefined;

// A SIGINT outside a busy loop (breakOnSigint handles those): ends a run awaiting a promise.
process.on('SIGINT', () => {
  const finish = pending;
  pending = undefined;
  finish?.({
    executionCount: count,
    error: {
      name: 'Interrupted',
      value: 'the execution was interrupted while awaiting a promise',
      traceback: '',
    },
  });
});

function describe(err: unknown): Answer['error'] {
  const cap = caps.error ?? 65_536;
  const e = err as { name?: unknown; message?: unknown; stack?: unknown } | null | undefined;
  const errorLike = typeof e === 'object' && e !== null && 'message' in e;
  const name = errorLike && typeof e.name === 'string' ? e.name : 'Error';
  const value = errorLike ? String(e.message) : inspect(err);
  const traceback = errorLike && typeof e.stack === 'string' ? e.stack : '';
  return { name: name.slice(0, 256), value: value.slice(0, cap), traceback: traceback.slice(-cap) };
}

function shown(executionCount: number, value: unknown): Answer {
  if (value === undefined) return { executionCount };
  const answer: Answer = { executionCount };
  let text = inspect(value);
  const cap = caps['text/plain'];
  if (cap !== undefined && text.length > cap) {
    text = text.slice(0, cap);
    answer.truncated = true;
  }
  answer.result = { text, formats: { 'text/plain': text } };
  return answer;
}

function compile(code: string, filename: string): { script: Script; wrapped: boolean } {
  try {
    return { script: new Script(code, { filename }), wrapped: false };
  } catch (err) {
    const rewritten = code.includes('await') ? rewriteAwait?.(code) : null;
    if (!rewritten) throw err;
    return { script: new Script(rewritten, { filename }), wrapped: true };
  }
}

async function run(code: string): Promise<Answer> {
  const executionCount = ++count;
  let value: unknown;
  let wrapped: boolean;
  try {
    const compiled = compile(code, `cell-${executionCount}`);
    wrapped = compiled.wrapped;
    value = compiled.script.runInContext(context, { breakOnSigint: true, displayErrors: false });
  } catch (err) {
    return { executionCount, error: describe(err) };
  }
  if (!wrapped) return shown(executionCount, value);
  return new Promise<Answer>((resolve) => {
    pending = resolve;
    (value as Promise<{ value?: unknown } | undefined>).then(
      (v) => {
        if (pending !== resolve) return;
        pending = undefined;
        resolve(shown(executionCount, v?.value));
      },
      (err: unknown) => {
        if (pending !== resolve) return;
        pending = undefined;
        resolve({ executionCount, error: describe(err) });
      },
    );
  });
}

/** Sets a run's own variables (`env` of the request); returns the values to put back after it. */
function applyEnv(env: unknown): Map<string, string | undefined> {
  const saved = new Map<string, string | undefined>();
  if (typeof env !== 'object' || env === null) return saved;
  for (const [key, value] of Object.entries(env as Record<string, unknown>)) {
    if (typeof value !== 'string') continue;
    saved.set(key, process.env[key]);
    process.env[key] = value;
  }
  return saved;
}

function restoreEnv(saved: Map<string, string | undefined>): void {
  for (const [key, value] of saved) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

function answer(a: object): void {
  const line = Buffer.from(`${JSON.stringify(a)}\n`);
  for (let off = 0; off < line.length; ) off += writeSync(ANSWERS_FD, line, off);
}

type Request = { code?: unknown; seq?: unknown; env?: unknown };

/** Runs the queued requests one after another; answers to calls are handed over as they come. */
function main(): void {
  answer({ ready: true });
  const queue: Request[] = [];
  let running = false;
  let ended = false;
  const next = async (): Promise<void> => {
    if (running) return;
    running = true;
    for (let request = queue.shift(); request; request = queue.shift()) {
      const saved = applyEnv(request.env);
      try {
        answer({ ...(await run(request.code as string)), seq: request.seq });
      } finally {
        restoreEnv(saved);
      }
    }
    running = false;
    if (ended) process.exit(0);
  };
  const lines = createInterface({ input: new Socket({ fd: 3, readable: true, writable: false }) });
  lines.on('line', (line) => {
    let msg: Request & { call?: unknown };
    try {
      msg = JSON.parse(line) as Request & { call?: unknown };
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    if ('call' in msg) return calls.onAnswer(msg);
    if (typeof msg.code !== 'string') return;
    queue.push(msg);
    void next();
  });
  lines.on('close', () => {
    ended = true;
    if (!running) process.exit(0);
  });
}

main();
