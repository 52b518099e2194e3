import { HearthError } from '../errors/hearth-error.js';

/** SQLite result codes (better-sqlite3's `SqliteError.code`) that mean the store cannot take writes now. */
const UNAVAILABLE = /^SQLITE_(IOERR|BUSY|LOCKED|READONLY|CANTOPEN|PROTOCOL|NOMEM)/;

/**
 * Converts a store failure into a HearthError, once, where it is thrown: a full disk is STORE_FULL,
 * an I/O error, a lock held too long or a read-only file STORE_UNAVAILABLE — conditions that pass,
 * so the caller answers 507/503 instead of 500. Anything else (a constraint, a bad query) is a bug.
 */
export function storeError(err: unknown, doing: string): HearthError {
  if (err instanceof HearthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_FULL') {
    return new HearthError('STORE_FULL', `cannot ${doing}: the database disk is full (${detail})`, {
      cause: err,
    });
  }
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new HearthError('STORE_UNAVAILABLE', `cannot ${doing}: ${code} (${detail})`, { cause: err });
  }
  return new HearthError('INTERNAL', `cannot ${doing}: ${detail}`, { cause: err });
}

/** True for the errors that pass when the disk or the lock is free again (worth retrying later). */
export const isTransientStoreError = (err: unknown): boolean =>
  err instanceof HearthError && (err.code === 'STORE_FULL' || err.code === 'STORE_UNAVAILABLE');

/** Runs `fn`, converting whatever it throws with `storeError`. */
export function guarded<T>(doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw storeError(err, doing);
  }
}
