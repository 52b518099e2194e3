import { ERROR_CODES, ERROR_HINTS, ERROR_STATUS, type ErrorCode } from './codes.js';

export interface HearthErrorOptions {
  /** Overrides the registry's hint. */
  hint?: string;
  cause?: unknown;
  /** Extra fields for the client (e.g. the supported languages). */
  details?: Record<string, unknown>;
}

/** The base of every error hearth raises on purpose: a code, its HTTP status and a hint. */
export class HearthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: HearthErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HearthError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.hint = opts.hint ?? ERROR_HINTS[code];
    this.details = opts.details;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string } & Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Converts anything thrown into a HearthError, once, at a boundary. */
export function toHearthError(err: unknown, fallback: ErrorCode = 'INTERNAL'): HearthError {
  if (err instanceof HearthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HearthError(fallback, message, { cause: err });
}
