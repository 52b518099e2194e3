import { HearthError } from '../errors/hearth-error.js';

/** An integer setting from the environment: `fallback` when unset, VALIDATION_FAILED when not an integer ≥ `min`. */
export function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    throw new HearthError('VALIDATION_FAILED', `${name}=${raw} must be an integer ≥ ${min}`, {
      hint: `Fix or unset ${name}.`,
    });
  }
  return n;
}
