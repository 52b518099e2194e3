/**
 * Failure signatures: the line of stderr that says what went wrong, with what differs between two
 * runs of the same failure (numbers, paths, hashes, versions, addresses) masked, so that the same
 * failure counts once however it was spelled this time.
 */

/** Longest signature kept; a longer line is cut (it still groups, by its first part). */
const MAX_SIGNATURE_CHARS = 160;
/** Lines that announce an error. */
const ERRORISH =
  /\b(error|err!|fatal|failed|failure|not found|no such|denied|cannot|can't|unable|exception|refused|invalid|missing|unknown|unexpected|panic|abort(ed)?|segmentation|killed|timed? ?out)\b/i;
/** Lines that never are the error: progress, warnings, shell tracing, tracebacks' frames. */
const NOISE = /^(\+ |warning\b|warn\b|npm warn|note:|hint:|\s*at |\s*File "|\s*\^+\s*$|-+$|=+$)/i;
/** The exception line that ends a Python traceback. */
const PY_EXCEPTION = /^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*/;

/** Masks what varies between two runs of one failure. */
export function maskVolatile(line: string): string {
  return line
    .replace(/\b[0-9a-f]{7,64}\b/gi, (m) => (/\d/.test(m) && /[a-f]/i.test(m) ? '<hash>' : m))
    .replace(/\b0x[0-9a-f]+\b/gi, '<addr>')
    .replace(/\b\d{4}-\d\d-\d\d[T ][\d:.]+Z?\b/g, '<time>')
    .replace(/(^|[\s'"`(=:])(~|\.{1,2})?\/[^\s'"`):]*/g, '$1<path>')
    .replace(/\b[\w.-]+\.(py|js|ts|mjs|cjs|rs|go|c|h|cpp|java|rb|sh|json|toml|lock|txt|ya?ml)\b/g, '<file>')
    .replace(/\bv?\d+(\.\d+)+([-+][\w.]+)?\b/g, '<version>')
    .replace(/\d+/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_SIGNATURE_CHARS);
}

/** The line of stderr that names the failure, or undefined when stderr says nothing. */
export function meaningfulLine(stderr: string): string | undefined {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (!lines.length) return undefined;
  if (lines.some((l) => l.startsWith('Traceback (most recent call last)'))) {
    const exc = lines.findLast((l) => PY_EXCEPTION.test(l));
    if (exc) return exc;
  }
  const candidates = lines.filter((l) => !NOISE.test(l));
  return candidates.find((l) => ERRORISH.test(l)) ?? candidates[0] ?? lines[0];
}

export interface FailureFacts {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stderrHead: string;
}

/**
 * A failed command's signature: its masked error line, else what ended it (a timeout, a signal, an
 * exit code), so a silent failure still groups with its kind.
 */
export function errorSignature(f: FailureFacts): string {
  if (f.timedOut) return 'timed out';
  const line = meaningfulLine(f.stderrHead);
  if (line) {
    const masked = maskVolatile(line);
    if (masked) return masked;
  }
  if (f.signal) return `killed by ${f.signal}`;
  return `exit code ${f.exitCode ?? 'unknown'}`;
}
