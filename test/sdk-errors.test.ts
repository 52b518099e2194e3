import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_HINTS, ERROR_STATUS } from '../src/errors/codes.js';
import { apiError } from '../src/sdk/errors.js';
import {
  AuthenticationError,
  ContextError,
  HearthApiError,
  InvalidArgumentError,
  NotFoundError,
  RateLimitError,
  SandboxDeadError,
  SnapshotError,
  TimeoutError,
} from '../src/sdk/index.js';

// The SDK's error classes against the server's registry: every code the server can answer with
// arrives as a typed error with its code, status and hint.
describe('SDK error classes', () => {
  it('every registry code becomes a HearthApiError with its status, code and hint', () => {
    for (const code of ERROR_CODES) {
      const e = apiError(ERROR_STATUS[code], { code, message: 'm', hint: ERROR_HINTS[code] });
      expect(e).toBeInstanceOf(HearthApiError);
      expect(e).toBeInstanceOf(Error);
      expect({ code: e.code, status: e.status, hint: e.hint }).toEqual({
        code,
        status: ERROR_STATUS[code],
        hint: ERROR_HINTS[code],
      });
    }
  });

  it('the class follows the code first, then the status', () => {
    const cls = (code: string) => apiError(ERROR_STATUS[code as never] ?? 500, { code }).constructor;
    expect(cls('SESSION_NOT_FOUND')).toBe(NotFoundError);
    expect(cls('SNAPSHOT_NOT_FOUND')).toBe(NotFoundError);
    expect(cls('FILE_NOT_FOUND')).toBe(NotFoundError);
    expect(cls('SESSION_LIMIT')).toBe(RateLimitError);
    expect(cls('SESSION_DEAD')).toBe(SandboxDeadError);
    expect(cls('SANDBOX_LOST')).toBe(SandboxDeadError);
    expect(cls('AGENT_TIMEOUT')).toBe(TimeoutError);
    expect(cls('SNAPSHOT_LIMIT')).toBe(SnapshotError);
    expect(cls('SNAPSHOT_KIND_UNSUPPORTED')).toBe(SnapshotError);
    expect(cls('SNAPSHOT_STORE_FULL')).toBe(SnapshotError);
    expect(cls('REPL_CONTEXT_BUSY')).toBe(ContextError);
    expect(cls('UNAUTHORIZED')).toBe(AuthenticationError);
    expect(cls('VALIDATION_FAILED')).toBe(InvalidArgumentError);
    expect(cls('PATH_ESCAPE')).toBe(InvalidArgumentError);
    expect(cls('INTERNAL')).toBe(HearthApiError);
    // A code this SDK does not know yet still gets the class of its status.
    expect(apiError(404, { code: 'SOMETHING_NEW_NOT_FOUND' })).toBeInstanceOf(NotFoundError);
    expect(apiError(429, { code: 'SOMETHING_NEW_LIMIT' })).toBeInstanceOf(RateLimitError);
  });
});
