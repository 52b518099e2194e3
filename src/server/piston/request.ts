import semver from 'semver';
import type { JobsConfig } from '../../jobs/config.js';
import type { LanguageInfo } from '../../jobs/languages.js';
import type { CompileLimits, JobFile, JobLimits, JobRequest } from '../../jobs/types.js';
import { toJobRequest } from '../validate.js';

/**
 * Piston's v2 execute request mapped onto a hearth job. Piston checks its body by hand and answers
 * 400 `{message}` with its own wording; the checks here keep that wording and order, so clients
 * that show the message (or match on it) see what Piston would say.
 */

/** A request Piston would refuse: answered 400 `{message}`. */
export class PistonRequestError extends Error {
  override readonly name = 'PistonRequestError';
}

/** Listed for a language whose version probe has not answered (yet): a valid semver version. */
export const UNKNOWN_VERSION = '0.0.0';

/** The server's limits in Piston's units, one per Piston constraint. */
export interface PistonLimits {
  /** ms */
  run_timeout: number;
  compile_timeout: number;
  /** ms */
  run_cpu_time: number;
  compile_cpu_time: number;
  /** bytes */
  run_memory_limit: number;
  compile_memory_limit: number;
}

const MIB = 1024 * 1024;

export function pistonLimits(config: JobsConfig): PistonLimits {
  return {
    run_timeout: config.maxLimits.timeoutMs,
    compile_timeout: config.compileTimeoutMs,
    run_cpu_time: config.maxLimits.cpuTimeMs,
    compile_cpu_time: config.compileTimeoutMs,
    run_memory_limit: config.maxLimits.memoryMb * MIB,
    compile_memory_limit: config.compileMemoryMb * MIB,
  };
}

/** Does a runtime's version answer a requested version (a semver range, `*`, or the exact text)? */
export function versionMatches(runtimeVersion: string | null, requested: string): boolean {
  // hearth has one version per language: while it is unknown, any request means that one.
  if (runtimeVersion === null) return true;
  if (requested === runtimeVersion || requested === '*') return true;
  const have = semver.coerce(runtimeVersion);
  return have !== null && semver.validRange(requested) !== null && semver.satisfies(have, requested);
}

/** Piston's file encodings; hearth takes utf8 and base64, so hex is re-encoded as base64. */
function toJobFile(file: Record<string, unknown>, i: number): JobFile {
  const content = file.content as string;
  const name = typeof file.name === 'string' && file.name !== '' ? file.name : `file${i}.code`;
  if (file.encoding === 'base64') return { name, content, encoding: 'base64' };
  if (file.encoding === 'hex') {
    return { name, content: Buffer.from(content, 'hex').toString('base64'), encoding: 'base64' };
  }
  return { name, content };
}

const isUtf8File = (f: Record<string, unknown>) => f.encoding !== 'base64' && f.encoding !== 'hex';

export interface MappedRequest {
  job: JobRequest;
  lang: LanguageInfo;
}

/**
 * Checks a Piston execute body as Piston does and maps it onto a job: the first UTF-8 file is the
 * entry point (hearth writes it under the language's file name), the others keep their names;
 * stdin gets the trailing newline Piston adds; run and compile limits become job limits. A limit of -1
 * (Piston's "no limit", piston-client's default) or 0 means the server default.
 */
export function toPistonJob(
  body: unknown,
  o: { languages: LanguageInfo[]; limits: PistonLimits },
): MappedRequest {
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const { language, version, files, stdin, args } = b;
  if (!language || typeof language !== 'string') fail('language is required as a string');
  if (!version || typeof version !== 'string') fail('version is required as a string');
  if (!files || !Array.isArray(files)) fail('files is required as an array');
  const list = files.map((f) => (f && typeof f === 'object' ? f : {}) as Record<string, unknown>);
  list.forEach((f, i) => {
    if (typeof f.content !== 'string') fail(`files[${i}].content is required as a string`);
  });
  const key = language.trim().toLowerCase();
  const lang = o.languages.find((l) => l.name === key || l.aliases.some((a) => a.toLowerCase() === key));
  if (!lang || !versionMatches(lang.version, version)) fail(`${language}-${version} runtime is unknown`);
  const entry = list.findIndex(isUtf8File);
  if (entry < 0) fail('files must include at least one utf8 encoded file');
  const asked = checkLimits(b, o.limits);
  if (stdin !== undefined && stdin !== null && typeof stdin !== 'string') fail('stdin must be a string');
  if (args !== undefined && args !== null) {
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
      fail('args must be an array of strings');
  }
  const others = list.flatMap((f, i) => (i === entry ? [] : [toJobFile(f, i)]));
  const input = stdin ?? '';
  const limits: Partial<JobLimits> = {};
  if (asked.run_timeout !== undefined) limits.timeoutMs = Math.ceil(asked.run_timeout);
  if (asked.run_cpu_time !== undefined) limits.cpuTimeMs = Math.ceil(asked.run_cpu_time);
  if (asked.run_memory_limit !== undefined)
    limits.memoryMb = Math.max(1, Math.ceil(asked.run_memory_limit / MIB));
  const compileLimits: Partial<CompileLimits> = {};
  if (asked.compile_timeout !== undefined) compileLimits.timeoutMs = Math.ceil(asked.compile_timeout);
  if (asked.compile_cpu_time !== undefined) compileLimits.cpuTimeMs = Math.ceil(asked.compile_cpu_time);
  if (asked.compile_memory_limit !== undefined)
    compileLimits.memoryMb = Math.max(1, Math.ceil(asked.compile_memory_limit / MIB));
  const job: JobRequest = {
    language: lang.name,
    code: list[entry]?.content as string,
    ...(others.length ? { files: others } : {}),
    // Piston ends stdin with a newline if it has none (an empty stdin becomes "\n").
    stdin: input.endsWith('\n') ? input : `${input}\n`,
    ...(Array.isArray(args) && args.length ? { args: args as string[] } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(Object.keys(compileLimits).length ? { compileLimits } : {}),
  };
  // The same schema POST /v1/jobs is checked with (file count, name lengths, no NUL in argv).
  return { job: toJobRequest(job, 'execute'), lang };
}

/** Piston's limit checks in its order; returns the run limits asked for (positive, within the maximum). */
function checkLimits(b: Record<string, unknown>, max: PistonLimits): Partial<PistonLimits> {
  const asked: Partial<PistonLimits> = {};
  for (const constraint of ['memory_limit', 'timeout', 'cpu_time'] as const) {
    for (const type of ['compile', 'run'] as const) {
      const name = `${type}_${constraint}` as const;
      const value = b[name];
      if (!value || value === -1) continue;
      if (typeof value !== 'number' || !Number.isFinite(value))
        fail(`If specified, ${name} must be a number`);
      if (value > max[name]) fail(`${name} cannot exceed the configured limit of ${max[name]}`);
      if (value < 0) fail(`${name} must be non-negative`);
      asked[name] = value;
    }
  }
  return asked;
}

function fail(message: string): never {
  throw new PistonRequestError(message);
}
