import type { OneShotFile } from '../backends/backend.js';
import { HearthError } from '../errors/hearth-error.js';
import { type Catalog, type LanguageDef, resolveLanguage } from '../images/catalog.js';
import { prepareSource } from '../images/source.js';
import { BackendSet } from '../sandboxes/backend-set.js';
import type { JobsConfig } from './config.js';
import { resolveCompileLimits, resolveLimits } from './config.js';
import type { JobLimits, JobRequest } from './types.js';

/** A request checked and made ready to run: everything the runner needs, nothing it must look up. */
export interface PreparedJob {
  lang: LanguageDef;
  limits: JobLimits;
  files: OneShotFile[];
  /** Set when the source failed the host-side compile stage (TypeScript type-stripping). */
  compileError?: string;
}

function byteLength(req: JobRequest): number {
  let n = req.code === undefined ? 0 : Buffer.byteLength(req.code);
  for (const f of req.files ?? []) {
    n += f.encoding === 'base64' ? Math.floor((f.content.length * 3) / 4) : Buffer.byteLength(f.content);
  }
  return n;
}

/** Checks a request without touching the disk or a sandbox; throws a HearthError naming what to fix. */
export function checkRequest(
  req: JobRequest,
  catalog: Catalog,
  config: JobsConfig,
): { lang: LanguageDef; limits: JobLimits } {
  if (typeof req.language !== 'string' || !req.language.trim()) {
    throw new HearthError('VALIDATION_FAILED', '`language` is required');
  }
  const lang = resolveLanguage(catalog, req.language);
  const blankCode = req.code === undefined || !req.code.trim();
  const noFiles = !req.files?.some((f) => f.content.length > 0);
  if (blankCode && noFiles) throw new HearthError('EMPTY_CODE', 'the code is blank');
  const size = byteLength(req);
  if (size > config.maxCodeBytes) {
    throw new HearthError(
      'PAYLOAD_TOO_LARGE',
      `the code is ${size} bytes; the maximum is ${config.maxCodeBytes}`,
    );
  }
  if (req.stdin !== undefined && Buffer.byteLength(req.stdin) > config.maxCodeBytes) {
    throw new HearthError(
      'PAYLOAD_TOO_LARGE',
      `stdin is larger than the maximum ${config.maxCodeBytes} bytes`,
    );
  }
  if (req.backend !== undefined && !BackendSet.isKnown(req.backend)) {
    throw new HearthError('UNKNOWN_BACKEND', `unknown backend "${req.backend}"`);
  }
  for (const [k, v] of Object.entries(req.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new HearthError('VALIDATION_FAILED', `env name ${JSON.stringify(k)} is not valid`);
    if (typeof v !== 'string' || v.includes('\0'))
      throw new HearthError('VALIDATION_FAILED', `env ${k} must be a string without NUL bytes`);
  }
  // argv and environment are C strings in the sandbox: a NUL would cut them (or fail the spawn).
  for (const [i, a] of (req.args ?? []).entries()) {
    if (typeof a !== 'string' || a.includes('\0'))
      throw new HearthError('VALIDATION_FAILED', `args[${i}] must be a string without NUL bytes`);
  }
  resolveCompileLimits(config, req.compileLimits);
  return { lang, limits: resolveLimits(config, req.limits) };
}

/** Checks a request and writes its source files (in memory); a TypeScript syntax error becomes a compile error. */
export async function prepareJob(
  req: JobRequest,
  catalog: Catalog,
  config: JobsConfig,
): Promise<PreparedJob> {
  const { lang, limits } = checkRequest(req, catalog, config);
  const input = {
    ...(req.code !== undefined ? { code: req.code } : {}),
    ...(req.files !== undefined
      ? {
          files: req.files.map((f) => ({
            ...(f.name !== undefined ? { name: f.name } : {}),
            content: f.content,
            encoding: f.encoding ?? 'utf8',
          })),
        }
      : {}),
  };
  try {
    return { lang, limits, files: await prepareSource(lang, input) };
  } catch (err) {
    if (
      lang.transpile &&
      err instanceof HearthError &&
      err.code === 'VALIDATION_FAILED' &&
      req.code !== undefined
    ) {
      return { lang, limits, files: [], compileError: err.message };
    }
    throw err;
  }
}
