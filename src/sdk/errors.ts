/**
 * The SDK's error classes: one base, `HearthApiError` (code, HTTP status, hint), and a subclass per
 * kind of failure a program would catch on its own, chosen from the server's error code. A code a
 * newer server adds still arrives as a HearthApiError (or the subclass its status implies). The
 * registry (src/errors/codes.ts) is plain data, so the SDK reads statuses from it without the server.
 */
import { ERROR_STATUS, type ErrorCode } from '../errors/codes.js';

type ErrorBody = { code?: string; message?: string; hint?: string } & Record<string, unknown>;

/** An error answer from the server: its code, HTTP status and hint. */
export class HearthApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly hint: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, body: ErrorBody, opts: { cause?: unknown } = {}) {
    super(body.message ?? `HTTP ${status}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HearthApiError';
    this.status = status;
    this.code = body.code ?? 'INTERNAL';
    this.hint = body.hint ?? '';
    this.details = body;
  }
}

/** A bearer token is missing or wrong (401). */
export class AuthenticationError extends HearthApiError {
  override readonly name = 'AuthenticationError';
}

/** The request itself is wrong: a field, a path outside the sandbox, a size (4xx but the others). */
export class InvalidArgumentError extends HearthApiError {
  override readonly name = 'InvalidArgumentError';
}

/** The session, command, context, snapshot or file does not exist (404). */
export class NotFoundError extends HearthApiError {
  override readonly name = 'NotFoundError';
}

/** A limit on concurrent sessions, contexts or queued work was reached (429): retry later. */
export class RateLimitError extends HearthApiError {
  override readonly name = 'RateLimitError';
}

/** Something took longer than its deadline: the agent, the request, or a command or code run. */
export class TimeoutError extends HearthApiError {
  override readonly name = 'TimeoutError';
}

/** The session's sandbox died or the session ended: only deleting it is left (410, or a lost sandbox). */
export class SandboxDeadError extends HearthApiError {
  override readonly name = 'SandboxDeadError';
}

/** A snapshot cannot be taken, kept or found: the per-session cap, the kind, the store's space. */
export class SnapshotError extends HearthApiError {
  override readonly name = 'SnapshotError';
}

/** An interpreter context is busy, dead, unknown or over its limit. */
export class ContextError extends HearthApiError {
  override readonly name = 'ContextError';
}

type ErrorClass = new (status: number, body: ErrorBody, opts?: { cause?: unknown }) => HearthApiError;

const BY_CODE: Record<string, ErrorClass> = {
  UNAUTHORIZED: AuthenticationError,
  SESSION_DEAD: SandboxDeadError,
  SANDBOX_LOST: SandboxDeadError,
  AGENT_TIMEOUT: TimeoutError,
  SNAPSHOT_LIMIT: SnapshotError,
  SNAPSHOT_KIND_UNSUPPORTED: SnapshotError,
  SNAPSHOT_STORE_FULL: SnapshotError,
  REPL_CONTEXT_NOT_FOUND: ContextError,
  REPL_CONTEXT_BUSY: ContextError,
  REPL_CONTEXT_DEAD: ContextError,
  REPL_CONTEXT_LIMIT: ContextError,
};

function byStatus(status: number): ErrorClass {
  if (status === 401) return AuthenticationError;
  if (status === 404) return NotFoundError;
  if (status === 410) return SandboxDeadError;
  if (status === 429) return RateLimitError;
  if (status === 504) return TimeoutError;
  if (status >= 400 && status < 500) return InvalidArgumentError;
  return HearthApiError;
}

/** The typed error for a server's error answer (`{ code, message, hint }` with its status). */
export function apiError(status: number, body: ErrorBody): HearthApiError {
  const Class = (body.code !== undefined && BY_CODE[body.code]) || byStatus(status);
  return new Class(status, body);
}

/** The error answer of a failed response, or an INTERNAL one when its body is not hearth's. */
export async function errorFromResponse(res: Response): Promise<HearthApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: ErrorBody };
    if (body.error && typeof body.error === 'object') return apiError(res.status, body.error);
  } catch {}
  return apiError(res.status, { code: 'INTERNAL', message: `HTTP ${res.status}: ${text.slice(0, 200)}` });
}

/**
 * The error code of anything thrown by a SessionsApi: the HTTP client's HearthApiError, or the
 * error of a service embedded in this process (which carries the same `code` and `status`).
 */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether a SessionsApi call failed because what it named does not exist (404). */
export function isNotFound(err: unknown): boolean {
  return (err as { status?: unknown } | null)?.status === 404;
}

const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_STATUS, code);

/**
 * An error that came as a message of a stream or socket (`{ error: { code, message, hint } }`, or
 * the fields flat), where no HTTP status goes with it: the status is its code's in the registry.
 */
export function errorFromEvent(data: Record<string, unknown>): HearthApiError {
  const body = (data.error && typeof data.error === 'object' ? data.error : data) as ErrorBody;
  const code = typeof body.code === 'string' ? body.code : 'INTERNAL';
  return apiError(isErrorCode(code) ? ERROR_STATUS[code] : 500, body);
}
