/**
 * How the code interpreter's contexts look to E2B clients. A sandbox's default contexts (the ones a
 * run without `context_id` uses) are shown under the language's name (`python`, `javascript`,
 * `typescript`): E2B lists the python and javascript defaults of a fresh sandbox, and hearth starts
 * an interpreter only at its first use, so the name stands for the context before it exists and
 * keeps standing for it after. Any other context is shown under its hearth id.
 */

import { SANDBOX_USER } from '../../../agent/sandbox-user.js';
import type { CodeContext, CodeLanguage } from '../../../api/sessions.js';
import type { ContextLanguage } from '../../../sessions/code.js';
import type { SessionService } from '../../../sessions/service.js';
import { e2bError } from './errors.js';

/** E2B's context, as `/contexts` answers it. */
export interface E2bContext {
  id: string;
  language: string;
  cwd: string;
}

/** The contexts E2B lists on a sandbox where no code has run yet. */
const LISTED_DEFAULTS: readonly ContextLanguage[] = ['python', 'javascript'];

/** The names E2B clients give languages, and hearth's language for each. */
const LANGUAGES: Readonly<Record<string, CodeLanguage>> = {
  python: 'python',
  javascript: 'javascript',
  js: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  bash: 'bash',
};

/** hearth's language for an E2B language name; a 400 for one hearth has no interpreter for. */
export function languageOf(name: unknown): CodeLanguage {
  if (name === undefined || name === null || name === '') return 'python';
  const language = typeof name === 'string' ? LANGUAGES[name.toLowerCase()] : undefined;
  if (!language)
    throw e2bError(
      400,
      `language ${String(name).slice(0, 64)} is not supported: use ${Object.keys(LANGUAGES).join(', ')}`,
    );
  return language;
}

export function isDefaultName(id: string): id is ContextLanguage {
  return id === 'python' || id === 'javascript' || id === 'typescript';
}

function view(c: CodeContext, id = c.id): E2bContext {
  return { id, language: c.language, cwd: c.cwd };
}

/** Every context of the sandbox, the defaults first (made or not), under their E2B ids. */
export async function listE2bContexts(sessions: SessionService, sandboxId: string): Promise<E2bContext[]> {
  const [contexts, defaults] = await Promise.all([
    sessions.listContexts(sandboxId),
    sessions.defaultContextIds(sandboxId),
  ]);
  const nameOf = new Map([...defaults].map(([language, id]) => [id, language]));
  // An interpreter not started yet will start in the sandbox's work directory.
  const cwd = SANDBOX_USER.workDir;
  const shown: E2bContext[] = [];
  for (const language of new Set<ContextLanguage>([...LISTED_DEFAULTS, ...defaults.keys()])) {
    const made = contexts.find((c) => c.id === defaults.get(language));
    shown.push(made ? view(made, language) : { id: language, language, cwd });
  }
  for (const c of contexts) if (!nameOf.has(c.id)) shown.push(view(c));
  return shown;
}

/**
 * The live hearth context behind an E2B id: a default name makes its context if need be; any other
 * id must exist (404 otherwise, in E2B's shape).
 */
export async function resolveContext(
  sessions: SessionService,
  sandboxId: string,
  id: string,
): Promise<CodeContext> {
  if (isDefaultName(id)) return sessions.defaultContext(sandboxId, id);
  const found = (await sessions.listContexts(sandboxId)).find((c) => c.id === id);
  if (!found) throw e2bError(404, `context ${id.slice(0, 64)} not found`);
  return found;
}

/** The hearth id behind an E2B id for restart and delete, or undefined: a default not yet made. */
export async function existingContextId(
  sessions: SessionService,
  sandboxId: string,
  id: string,
): Promise<string | undefined> {
  if (isDefaultName(id)) return (await sessions.defaultContextIds(sandboxId)).get(id);
  const found = (await sessions.listContexts(sandboxId)).find((c) => c.id === id);
  if (!found) throw e2bError(404, `context ${id.slice(0, 64)} not found`);
  return found.id;
}

/** Makes calls for the same key run one at a time, in order (E2B runs a context's code so). */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const tail = mine.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return mine;
  }
}
