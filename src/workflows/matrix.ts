/**
 * `strategy:` once evaluated: the matrix product with exclude and include as GitHub applies them,
 * fail-fast and max-parallel.
 */
import { HearthError } from '../errors/hearth-error.js';
import type { Value } from './expressions.js';

export type MatrixValues = Record<string, Value>;

export interface Strategy {
  /** One entry per leg; `[{}]` when the job has no matrix. */
  legs: MatrixValues[];
  /** @default true */
  failFast: boolean;
  /** Legs of this job running at once; undefined means no limit of its own. */
  maxParallel: number | undefined;
}

/** GitHub refuses matrices past this many legs. */
export const MAX_MATRIX_LEGS = 256;

type ValueMap = { [key: string]: Value };

const isMap = (v: Value | undefined): v is ValueMap =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Expands an evaluated `strategy:` value (undefined when the job has none). */
export function expandStrategy(jobId: string, strategy: Value | undefined): Strategy {
  if (strategy === undefined || strategy === null)
    return { legs: [{}], failFast: true, maxParallel: undefined };
  if (!isMap(strategy)) throw bad(jobId, 'strategy must be a mapping');
  const failFast = strategy['fail-fast'] ?? true;
  if (typeof failFast !== 'boolean') throw bad(jobId, 'strategy.fail-fast must be true or false');
  const maxParallel = strategy['max-parallel'];
  if (
    maxParallel !== undefined &&
    maxParallel !== null &&
    !(typeof maxParallel === 'number' && maxParallel >= 1)
  ) {
    throw bad(jobId, 'strategy.max-parallel must be a number of at least 1');
  }
  return {
    legs: expandMatrix(jobId, strategy.matrix),
    failFast,
    maxParallel: typeof maxParallel === 'number' ? Math.floor(maxParallel) : undefined,
  };
}

/** The legs of an evaluated `matrix:` value. */
export function expandMatrix(jobId: string, matrix: Value | undefined): MatrixValues[] {
  if (matrix === undefined || matrix === null) return [{}];
  if (!isMap(matrix)) throw bad(jobId, 'strategy.matrix must be a mapping');
  let legs: MatrixValues[] = [{}];
  const keys: string[] = [];
  for (const [key, values] of Object.entries(matrix)) {
    if (key === 'include' || key === 'exclude') continue;
    if (!Array.isArray(values)) throw bad(jobId, `matrix.${key} must be a list`);
    if (values.length === 0) throw bad(jobId, `matrix.${key} is an empty list`);
    keys.push(key);
    legs = legs.flatMap((leg) => values.map((v) => ({ ...leg, [key]: v })));
    if (legs.length > MAX_MATRIX_LEGS) throw bad(jobId, `the matrix has more than ${MAX_MATRIX_LEGS} legs`);
  }
  for (const rule of entries(jobId, matrix.exclude, 'exclude')) {
    legs = legs.filter((leg) => !Object.entries(rule).every(([k, v]) => k in leg && same(leg[k], v)));
  }
  if (keys.length === 0) legs = [];
  const base = legs.map((leg) => ({ ...leg }));
  for (const extra of entries(jobId, matrix.include, 'include')) {
    // An include entry extends every leg whose original values it does not change; if it extends
    // none, it is a leg of its own.
    let used = false;
    base.forEach((original, i) => {
      const fits = Object.entries(extra).every(([k, v]) => !(k in original) || same(original[k], v));
      if (!fits) return;
      legs[i] = { ...legs[i], ...extra };
      used = true;
    });
    if (!used) legs.push({ ...extra });
  }
  if (legs.length === 0) return [{}];
  if (legs.length > MAX_MATRIX_LEGS) throw bad(jobId, `the matrix has more than ${MAX_MATRIX_LEGS} legs`);
  return legs;
}

function entries(jobId: string, value: Value | undefined, name: string): ValueMap[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isMap))
    throw bad(jobId, `matrix.${name} must be a list of mappings`);
  return value;
}

/** GitHub compares matrix values deeply (objects as include/exclude keys too). */
function same(a: Value | undefined, b: Value | undefined): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

function bad(jobId: string, reason: string): HearthError {
  return new HearthError('WORKFLOW_INVALID', `job '${jobId}': ${reason}`);
}
