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

/** A driver's `{text, formats}` value, cut to the caps; `cut` says whether anything was lost. */
function sanitizeValue(v: Record<string, unknown>): { value: ReplValue; cut: boolean } {
  let truncated = false;
  const text = str(v.text) ?? '';
  const formats: ReplFormats = {};
  const given = obj(v.formats) ?? {};
  for (const [mime, cap] of Object.entries(FORMAT_CAPS) as [keyof ReplFormats, number][]) {
    const f = str(given[mime]);
    if (f === undefined) continue;
    if (mime === 'image/png' && !BASE64.test(f)) continue;
    if (f.length <= cap) formats[mime] = f;
    else {
      truncated = true;
      if (mime === 'text/plain') formats[mime] = cut(f, cap);
    }
  }
  if (text.length > L.maxTextChars) truncated = true;
  return { value: { text: cut(text, L.maxTextChars), formats }, cut: truncated };
}

function sizeOf(v: ReplValue): number {
  return v.text.length + Object.values(v.formats).reduce((n, f) => n + (f?.length ?? 0), 0);
}

/** Displays in order, at most maxDisplays of at most maxDisplayChars together. */
function sanitizeDisplays(given: unknown[]): { displays: ReplValue[]; cut: boolean } {
  const displays: ReplValue[] = [];
  let chars = 0;
  let truncated = false;
  for (const d of given) {
    const o = obj(d);
    if (!o) continue;
    const { value, cut: lost } = sanitizeValue(o);
    chars += sizeOf(value);
    if (displays.length >= L.maxDisplays || chars > L.maxDisplayChars) return { displays, cut: true };
    truncated ||= lost;
    displays.push(value);
  }
  return { displays, cut: truncated };
}

export function sanitizeAnswer(line: Record<string, unknown>): {
  result?: ReplValue;
  displays?: ReplValue[];
  error?: ReplError;
  resultTruncated: boolean;
} {
  let truncated = line.truncated === true;
  const out: { result?: ReplValue; displays?: ReplValue[]; error?: ReplError; resultTruncated: boolean } = {
    resultTruncated: false,
  };
  const result = obj(line.result);
  if (result) {
    const { value, cut: lost } = sanitizeValue(result);
    truncated ||= lost;
    out.result = value;
  }
  if (Array.isArray(line.displays) && line.displays.length > 0) {
    const { displays, cut: lost } = sanitizeDisplays(line.displays.slice(0, L.maxDisplays + 1));
    truncated ||= lost;
    if (displays.length > 0) out.displays = displays;
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
