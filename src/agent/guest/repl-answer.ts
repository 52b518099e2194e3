/**
 * Turns a driver's answer line into the `result` / `error` of a ReplRunResult: only the known
 * fields, only strings, each cut to REPL_LIMITS. The driver already cuts; this is the exact cut
 * (in UTF-16 units, as the host's schema counts), and it ignores whatever the program forged.
 */
import { REPL_LIMITS as L } from '../repl-limits.js';
import type { ReplError, ReplFormats, ReplValue } from '../repl-schema.js';

const FORMAT_CAPS: Record<keyof ReplFormats, number> = {
  'text/plain': L.maxTextChars,
  'text/html': L.maxHtmlChars,
  'image/png': L.maxPngBase64Chars,
  'application/json': L.maxJsonChars,
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** Cuts a string to `max` UTF-16 units without splitting a surrogate pair. */
function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

export function sanitizeAnswer(line: Record<string, unknown>): {
  result?: ReplValue;
  error?: ReplError;
  resultTruncated: boolean;
} {
  let truncated = line.truncated === true;
  const out: { result?: ReplValue; error?: ReplError; resultTruncated: boolean } = { resultTruncated: false };
  const result = obj(line.result);
  if (result) {
    const text = str(result.text) ?? '';
    const formats: ReplFormats = {};
    const given = obj(result.formats) ?? {};
    for (const [mime, cap] of Object.entries(FORMAT_CAPS) as [keyof ReplFormats, number][]) {
      const v = str(given[mime]);
      if (v === undefined) continue;
      if (mime === 'image/png' && !BASE64.test(v)) continue;
      if (v.length <= cap) formats[mime] = v;
      else {
        truncated = true;
        if (mime === 'text/plain') formats[mime] = cut(v, cap);
      }
    }
    if (text.length > L.maxTextChars) truncated = true;
    out.result = { text: cut(text, L.maxTextChars), formats };
  }
  const error = obj(line.error);
  if (error)
    out.error = {
      name: cut(str(error.name) ?? 'Error', L.maxErrorNameChars),
      value: cut(str(error.value) ?? '', L.maxErrorTextChars),
      traceback: cut(str(error.traceback) ?? '', L.maxErrorTextChars),
    };
  out.resultTruncated = truncated;
  return out;
}
