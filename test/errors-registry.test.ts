import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_HINTS, ERROR_STATUS } from '../src/errors/codes.js';
import { HearthError, isErrorCode, toHearthError } from '../src/errors/hearth-error.js';

describe('error registry', () => {
  it('has unique codes, each with an HTTP error status and a hint', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(ERROR_STATUS[code], code).toBeGreaterThanOrEqual(400);
      expect(ERROR_STATUS[code], code).toBeLessThan(600);
      expect(ERROR_HINTS[code].length, code).toBeGreaterThan(10);
    }
    expect(Object.keys(ERROR_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.keys(ERROR_HINTS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('carries code, status, hint and cause, and serialises them', () => {
    const cause = new Error('disk on fire');
    const err = new HearthError('UNKNOWN_LANGUAGE', 'unsupported language "cobol"', {
      cause,
      details: { supported: ['python'] },
    });
    expect(err.status).toBe(400);
    expect(err.cause).toBe(cause);
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      code: 'UNKNOWN_LANGUAGE',
      message: 'unsupported language "cobol"',
      hint: ERROR_HINTS.UNKNOWN_LANGUAGE,
      supported: ['python'],
    });
  });

  it('converts unknown throws once, keeping typed errors as they are', () => {
    const typed = new HearthError('QUEUE_FULL', 'queue is full');
    expect(toHearthError(typed)).toBe(typed);
    const converted = toHearthError(new TypeError('x is undefined'));
    expect(converted.code).toBe('INTERNAL');
    expect(converted.status).toBe(500);
    expect(toHearthError('plain string', 'SANDBOX_LOST').code).toBe('SANDBOX_LOST');
    expect(isErrorCode('NOT_FOUND')).toBe(true);
    expect(isErrorCode('FST_ERR_NOT_FOUND')).toBe(false);
  });
});
