/**
 * What `hearth workflow run` reads from its flags and files, as act reads them: secrets (`-s NAME=value`,
 * a bare `-s NAME` from the environment, `--secret-file`), variables, env files (.env format),
 * workflow_dispatch inputs and `--matrix k:v` filters. Bad input is a VALIDATION_FAILED (exit 2).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { HearthError } from '../errors/hearth-error.js';

/** Files given to the CLI are the user's; still, an env file past this size is a mistake. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** A usage error of `hearth workflow run` (exit code 2). */
export const usage = (message: string) =>
  new HearthError('VALIDATION_FAILED', message, { hint: 'See `hearth workflow run --help`.' });
const bad = usage;

/** Reads a file the user named (or a default that exists); undefined when an optional default is absent. */
export function readUserFile(path: string, flag: string, optional = false): string | undefined {
  if (optional && !existsSync(path)) return undefined;
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw bad(`${flag}: cannot read ${path}`);
  }
  if (size > MAX_FILE_BYTES) throw bad(`${flag}: ${path} is larger than ${MAX_FILE_BYTES} bytes`);
  return readFileSync(path, 'utf8');
}

/**
 * The .env format as act (godotenv) reads it: `KEY=value`, `export KEY=value`, `# comments`,
 * 'single quotes' taken as they are, "double quotes" with \n \r \t \" \\ escapes and line breaks,
 * unquoted values trimmed with a trailing ` # comment` removed.
 */
export function parseDotenv(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.replace(/^export\s+/, '');
    const eq = body.indexOf('=');
    const key = eq > 0 ? body.slice(0, eq).trim() : '';
    if (!KEY.test(key)) throw bad(`${file}:${lineNo}: expected KEY=VALUE`);
    let rest = body.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote !== '"' && quote !== "'") {
      out[key] = rest.replace(/\s+#.*$/, '').trim();
      continue;
    }
    // A quoted value may go on over the next lines until its closing quote.
    rest = rest.slice(1);
    let value = '';
    for (;;) {
      const end = closing(rest, quote);
      if (end >= 0) {
        value += rest.slice(0, end);
        break;
      }
      value += `${rest}\n`;
      i++;
      if (i >= lines.length) throw bad(`${file}:${lineNo}: the value of ${key} has no closing ${quote}`);
      rest = lines[i] ?? '';
    }
    out[key] = quote === '"' ? unescapeDoubleQuoted(value) : value;
  }
  return out;
}

function closing(text: string, quote: string): number {
  for (let i = 0; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

function unescapeDoubleQuoted(text: string): string {
  const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };
  return text.replace(/\\(.)/g, (whole, c: string) => map[c] ?? whole);
}

/** `KEY=VALUE` flags (repeatable) into a record; `flag` names the flag in errors. */
export function pairs(values: readonly string[], flag: string, sep = '='): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf(sep);
    const key = at > 0 ? v.slice(0, at) : '';
    if (!KEY.test(key)) throw bad(`${flag} expects KEY${sep}VALUE, got "${v}"`);
    out[key] = v.slice(at + 1);
  }
  return out;
}

/** `-s NAME=value`, or `-s NAME` whose value is the environment variable NAME. */
export function secretFlags(values: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    if (v.includes('=')) Object.assign(out, pairs([v], '--secret'));
    else if (!KEY.test(v)) throw bad(`--secret expects NAME or NAME=value, got "${v}"`);
    else {
      const value = env[v];
      if (value === undefined)
        throw bad(`--secret ${v}: the environment has no ${v} (give ${v}=value or export it)`);
      out[v] = value;
    }
  }
  return out;
}

/** `--matrix k:v` (repeatable; several values of one key are alternatives). */
export function matrixFlags(values: readonly string[]): Record<string, string[]> | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const at = v.indexOf(':');
    const key = at > 0 ? v.slice(0, at) : '';
    if (key === '') throw bad(`--matrix expects KEY:VALUE, got "${v}"`);
    out[key] = [...(out[key] ?? []), v.slice(at + 1)];
  }
  return out;
}

type InputValue = string | number | boolean;

/**
 * The `inputs` context of a workflow_dispatch / workflow_call run: every declared input from
 * `--input`, else the event's `inputs`, else its default, typed as declared (boolean, number,
 * choice checked against its options); undeclared ones pass as strings, as act passes them.
 */
export function inputsContext(
  declared: unknown,
  given: Record<string, string>,
  fromEvent: Record<string, unknown>,
): Record<string, InputValue> {
  const out: Record<string, InputValue> = {};
  for (const [k, v] of Object.entries(fromEvent)) out[k] = typeof v === 'boolean' ? v : String(v);
  Object.assign(out, given);
  const decl = declared && typeof declared === 'object' ? (declared as Record<string, unknown>) : {};
  for (const [name, spec] of Object.entries(decl)) {
    const s = (spec && typeof spec === 'object' ? spec : {}) as Record<string, unknown>;
    const raw = out[name] ?? s.default;
    if (raw === undefined || raw === null) {
      out[name] = s.type === 'boolean' ? false : '';
      continue;
    }
    const text = String(raw);
    if (s.type === 'boolean') {
      if (text !== 'true' && text !== 'false') throw bad(`input ${name} is a boolean: true or false`);
      out[name] = text === 'true';
    } else if (s.type === 'number') {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) throw bad(`input ${name} is a number, got "${text}"`);
      out[name] = n;
    } else if (s.type === 'choice' && Array.isArray(s.options) && !s.options.map(String).includes(text)) {
      throw bad(`input ${name} must be one of: ${s.options.map(String).join(', ')}`);
    } else out[name] = text;
  }
  return out;
}

/** The event payload of `-e <event.json>`: a JSON object. */
export function eventPayload(path: string | undefined): Record<string, unknown> {
  if (path === undefined) return {};
  const text = readUserFile(path, '--eventpath') ?? '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad(`--eventpath ${path} is not JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw bad(`--eventpath ${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}
