import { StringDecoder } from 'node:string_decoder';
import type { RunCodeOutcome } from '../agent/client-repl.js';
import type { ReplContextInfo, ReplLanguage } from '../agent/repl-schema.js';
import type { CodeContext, CodeLanguage, CodeRequest, CodeResult } from '../api/sessions.js';
import type { OutputHandlers } from '../api/sessions-api.js';
import { HearthError } from '../errors/hearth-error.js';
import { typeStripper } from '../images/type-strip.js';
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';
import type { SessionCommands } from './commands.js';

export type ContextLanguage = Exclude<CodeLanguage, 'bash'>;

/**
 * A session's interpreter contexts. Python and JavaScript contexts are the agent's persistent
 * interpreters; a TypeScript context is a JavaScript one whose code is type-stripped on the host
 * first; bash runs each call as a command. Without a `context`, each language has a default
 * context, made at its first use.
 */
export class SessionCode {
  /** The default context of each language. */
  readonly #defaults = new Map<ContextLanguage, string>();
  /** Context ids whose code is TypeScript. */
  readonly #typescript = new Set<string>();
  /** Contexts a caller made: never taken as a language's default. */
  readonly #explicit = new Set<string>();

  constructor(
    private readonly o: {
      sessionId: string;
      commands: SessionCommands;
      /** The session's environment variables, which every interpreter it starts gets. */
      env?: Record<string, string>;
    },
  ) {}

  async create(sandbox: ManagedSandbox, language: ContextLanguage, cwd?: string): Promise<CodeContext> {
    const made = await this.#make(sandbox, language, cwd);
    this.#explicit.add(made.id);
    return made;
  }

  async #make(sandbox: ManagedSandbox, language: ContextLanguage, cwd?: string): Promise<CodeContext> {
    const env = this.o.env && Object.keys(this.o.env).length ? this.o.env : undefined;
    const info = await sandbox.createContext({
      language: agentLanguage(language),
      ...(cwd ? { cwd } : {}),
      ...(env ? { env } : {}),
    });
    if (language === 'typescript') this.#typescript.add(info.contextId);
    return this.#view(info);
  }

  async list(sandbox: ManagedSandbox): Promise<CodeContext[]> {
    return (await sandbox.repl.listContexts()).map((c) => this.#view(c));
  }

  async restart(sandbox: ManagedSandbox, contextId: string): Promise<CodeContext> {
    return this.#view(await sandbox.repl.restartContext(contextId));
  }

  async remove(sandbox: ManagedSandbox, contextId: string): Promise<void> {
    await sandbox.repl.deleteContext(contextId);
    this.#typescript.delete(contextId);
    this.#explicit.delete(contextId);
    for (const [lang, id] of this.#defaults) if (id === contextId) this.#defaults.delete(lang);
  }

  /** After a restore that lost the interpreters (a filesystem snapshot), defaults are made again. */
  forgetContexts(): void {
    this.#defaults.clear();
  }

  async run(
    sandbox: ManagedSandbox,
    req: CodeRequest & { timeoutMs: number },
    handlers: OutputHandlers = {},
  ): Promise<CodeResult> {
    const started = performance.now();
    const language =
      req.language ?? (req.context && this.#typescript.has(req.context) ? 'typescript' : 'python');
    if (language === 'bash' && !req.context) return this.#bash(sandbox, req, handlers);
    const lang = language as ContextLanguage;
    // A character split between two chunks of output reaches the handlers whole.
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    const tell = (stream: 'stdout' | 'stderr', text: string) => {
      if (text) (stream === 'stdout' ? handlers.onStdout : handlers.onStderr)?.(text);
    };
    const exec = async (id: string) => {
      const ts = this.#typescript.has(id);
      const code = ts
        ? (await typeStripper().strip(Buffer.from(req.code), 'cell.ts')).toString('utf8')
        : req.code;
      return sandbox.runCode(
        { id, language: ts ? 'typescript' : language },
        code,
        {
          timeoutMs: req.timeoutMs,
          onStdout: (c) => tell('stdout', decoders.stdout.write(c)),
          onStderr: (c) => tell('stderr', decoders.stderr.write(c)),
          ...(req.env ? { env: req.env } : {}),
          ...(handlers.signal ? { signal: handlers.signal } : {}),
        },
        { session: this.o.sessionId },
      );
    };
    // A known default context is run in without asking the agent first whether it lives (that
    // was a round trip per run); the agent refuses a dead or unknown one before running any code,
    // and then the default is made live again and the code sent once more.
    let contextId = req.context ?? this.#defaults.get(lang) ?? (await this.#default(sandbox, lang));
    let out: RunCodeOutcome;
    try {
      out = await exec(contextId);
    } catch (err) {
      const gone =
        err instanceof HearthError &&
        (err.code === 'REPL_CONTEXT_DEAD' || err.code === 'REPL_CONTEXT_NOT_FOUND');
      if (req.context || !gone) throw err;
      if (err.code === 'REPL_CONTEXT_NOT_FOUND') this.#defaults.delete(lang);
      contextId = await this.#default(sandbox, lang);
      out = await exec(contextId);
    }
    tell('stdout', decoders.stdout.end());
    tell('stderr', decoders.stderr.end());
    return {
      context: contextId,
      executionCount: out.executionCount,
      stdout: out.stdout.toString('utf8'),
      stderr: out.stderr.toString('utf8'),
      result: out.result ? { text: out.result.text, formats: { ...out.result.formats } } : null,
      ...(out.displays?.length
        ? { displays: out.displays.map((d) => ({ text: d.text, formats: { ...d.formats } })) }
        : {}),
      error: out.error ? { ...out.error } : null,
      timedOut: out.timedOut,
      contextLost: out.contextLost,
      outputTruncated: out.outputTruncated,
      wallTimeMs: Math.round(performance.now() - started),
    };
  }

  /** The language's default context, made (or restarted, if its interpreter died) now if need be. */
  async defaultContext(sandbox: ManagedSandbox, language: ContextLanguage): Promise<CodeContext> {
    const id = await this.#default(sandbox, language);
    const info = (await sandbox.repl.listContexts()).find((c) => c.contextId === id);
    if (!info) throw new HearthError('REPL_CONTEXT_NOT_FOUND', `context ${id} is gone`);
    return this.#view(info);
  }

  /** The ids of the default contexts made so far, by language. */
  defaultIds(): ReadonlyMap<ContextLanguage, string> {
    return this.#defaults;
  }

  async #default(sandbox: ManagedSandbox, language: ContextLanguage): Promise<string> {
    const known = this.#defaults.get(language);
    if (known) {
      const alive = (await sandbox.repl.listContexts()).find((c) => c.contextId === known);
      if (alive && alive.state !== 'dead') return known;
      if (alive) return (await sandbox.repl.restartContext(known)).contextId;
    }
    // A session restored from memory (a fork, a resume after a restart) already runs interpreters:
    // the first live one of the language becomes its default, unless a caller made it for itself.
    const running = (await sandbox.repl.listContexts()).find(
      (c) =>
        c.state !== 'dead' &&
        c.language === agentLanguage(language) &&
        !this.#typescript.has(c.contextId) &&
        !this.#explicit.has(c.contextId),
    );
    if (running && language !== 'typescript') {
      this.#defaults.set(language, running.contextId);
      return running.contextId;
    }
    const made = await this.#make(sandbox, language);
    this.#defaults.set(language, made.id);
    return made.id;
  }

  async #bash(
    sandbox: ManagedSandbox,
    req: CodeRequest & { timeoutMs: number },
    handlers: OutputHandlers,
  ): Promise<CodeResult> {
    const started = performance.now();
    const { id, done, handle } = this.o.commands.start(
      sandbox,
      { argv: ['bash', '-c', req.code], timeoutMs: req.timeoutMs, ...(req.env ? { env: req.env } : {}) },
      handlers,
    );
    const onAbort = () => void handle.kill('SIGKILL');
    handlers.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await done;
      const failed = r.exitCode !== 0;
      return {
        context: 'bash',
        executionCount: 0,
        stdout: r.stdout,
        stderr: r.stderr,
        result: null,
        error: failed
          ? {
              name: r.timedOut ? 'TimeoutError' : 'ExitError',
              value: r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`,
              traceback: '',
            }
          : null,
        timedOut: r.timedOut,
        contextLost: false,
        outputTruncated: r.truncated,
        wallTimeMs: Math.round(performance.now() - started),
      };
    } finally {
      handlers.signal?.removeEventListener('abort', onAbort);
      this.o.commands.forget(id);
    }
  }

  #view(c: ReplContextInfo): CodeContext {
    return {
      id: c.contextId,
      language: this.#typescript.has(c.contextId) ? 'typescript' : c.language,
      cwd: c.cwd,
      executionCount: c.executionCount,
      state: c.state,
    };
  }
}

function agentLanguage(language: ContextLanguage): ReplLanguage {
  if (language === 'python') return 'python';
  if (language === 'javascript' || language === 'typescript') return 'javascript';
  throw new HearthError('VALIDATION_FAILED', `no interpreter contexts for ${language as string}`);
}
