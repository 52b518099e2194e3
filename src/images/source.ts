import { posix } from 'node:path';
import type { OneShotFile } from '../backends/backend.js';
import { HearthError } from '../errors/hearth-error.js';
import type { LanguageDef } from './catalog.js';
import { typeStripper } from './type-strip.js';

/** What a job or session submits: inline code, files, or both. */
export interface SourceInput {
  /** Written to the language's file (e.g. main.py). */
  code?: string;
  /**
   * Extra or alternative files. Without `code`, the first file is the entry point and is written
   * to the language's file, unless every file has a name — then each goes by its name.
   */
  files?: { name?: string; content: string; encoding?: 'utf8' | 'base64' }[];
}

/** Where the run command of a `transpile: typescript` language expects the JavaScript. */
export const TYPESCRIPT_OUTPUT = 'main.mjs';

function invalid(message: string): never {
  throw new HearthError('VALIDATION_FAILED', message);
}

/** A relative path inside the work dir, normalised; refuses absolute paths and `..`. */
function confined(name: string): string {
  if (name.includes('\0')) invalid(`file name ${JSON.stringify(name)} contains a NUL byte`);
  if (name.startsWith('/') || name.startsWith('\\'))
    invalid(`file name "${name}" must be relative to the work dir`);
  const parts = name.split(/[\\/]+/);
  if (parts.includes('..')) invalid(`file name "${name}" must not contain ".."`);
  const normal = posix.normalize(parts.join('/'));
  if (normal === '.' || normal === '' || normal.endsWith('/')) invalid(`file name "${name}" names no file`);
  return normal;
}

function decode(file: { content: string; encoding?: 'utf8' | 'base64' }, label: string): Buffer {
  if (typeof file.content !== 'string') invalid(`${label}: content must be a string`);
  if (file.encoding === undefined || file.encoding === 'utf8') return Buffer.from(file.content, 'utf8');
  if (file.encoding === 'base64') return Buffer.from(file.content, 'base64');
  return invalid(`${label}: encoding must be utf8 or base64`);
}

/**
 * Turns submitted code and files into the files a sandbox's work dir gets for `lang`: the entry
 * point at the language's file name, other files by their (confined) names, and TypeScript
 * type-stripped on the host into {@link TYPESCRIPT_OUTPUT} (bounded: see {@link typeStripper}).
 */
export async function prepareSource(lang: LanguageDef, input: SourceInput): Promise<OneShotFile[]> {
  const files = input.files ?? [];
  if (!Array.isArray(files)) invalid('files must be a list');
  const hasCode = typeof input.code === 'string' && input.code.trim() !== '';
  const decoded = files.map((f, i) => ({
    name: f?.name,
    content: decode(f ?? { content: '' }, `files[${i}]`),
  }));
  if (!hasCode && !decoded.some((f) => f.content.toString('utf8').trim() !== '')) {
    throw new HearthError('EMPTY_CODE', 'no code to run: `code` is blank and no file has content');
  }
  const allNamed = decoded.length > 0 && decoded.every((f) => typeof f.name === 'string' && f.name !== '');
  const out = new Map<string, Buffer>();
  if (hasCode) out.set(lang.file, Buffer.from(input.code as string, 'utf8'));
  decoded.forEach((f, i) => {
    const path = !hasCode && !allNamed && i === 0 ? lang.file : f.name ? confined(f.name) : undefined;
    if (path === undefined) invalid(`files[${i}] needs a name (only the entry point may go without one)`);
    if (out.has(path)) invalid(`two files are named "${path}"`);
    out.set(path, f.content);
  });
  if (lang.transpile === 'typescript') {
    const entry = out.get(lang.file);
    if (entry === undefined) invalid(`no entry point: send \`code\` or a file named ${lang.file}`);
    out.set(TYPESCRIPT_OUTPUT, await typeStripper().strip(entry, lang.file));
    for (const [path, content] of out) {
      if (path !== lang.file && /\.(mts|ts)$/.test(path) && !path.endsWith('.d.ts')) {
        out.set(path.replace(/\.m?ts$/, '.mjs'), await typeStripper().strip(content, path));
      }
    }
  }
  return [...out].map(([path, content]) => ({ path, content, mode: 0o644 }));
}
