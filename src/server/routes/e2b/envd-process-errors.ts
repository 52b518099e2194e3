import { Code, ConnectError } from '@connectrpc/connect';
import type { ErrorCode } from '../../../errors/codes.js';
import { toHearthError } from '../../../errors/hearth-error.js';

/**
 * Codes whose meaning for an E2B client is not their HTTP status: a session that is gone or broken
 * is a sandbox that no longer answers, which the SDK reports as "sandbox not found" or a timeout.
 */
const BY_CODE: Partial<Record<ErrorCode, Code>> = {
  SESSION_NOT_FOUND: Code.Unavailable,
  SESSION_DEAD: Code.Unavailable,
  SANDBOX_LOST: Code.Unavailable,
  AGENT_PROTOCOL: Code.Unavailable,
  AGENT_UNKNOWN_VERSION: Code.Unavailable,
  AGENT_TIMEOUT: Code.Unavailable,
  SHUTTING_DOWN: Code.Unavailable,
  CANCELLED: Code.Canceled,
};

const BY_STATUS: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  405: Code.Unimplemented,
  409: Code.FailedPrecondition,
  410: Code.Unavailable,
  413: Code.ResourceExhausted,
  415: Code.InvalidArgument,
  429: Code.ResourceExhausted,
  502: Code.Unavailable,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
  507: Code.ResourceExhausted,
};

/**
 * Anything a Connect handler threw, as the ConnectError its client gets: a ConnectError as it is,
 * a HearthError by its code (then its HTTP status), anything else as `internal` (a hearth bug,
 * which `onInternal` hears so it is logged).
 */
export function toConnectError(err: unknown, onInternal?: (err: unknown) => void): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = toHearthError(err);
  const code = BY_CODE[e.code] ?? BY_STATUS[e.status] ?? Code.Internal;
  if (code === Code.Internal) onInternal?.(err);
  const message = e.status < 500 && e.hint ? `${e.message} (${e.hint})` : e.message;
  return new ConnectError(message, code, undefined, undefined, err);
}
