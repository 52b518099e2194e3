import type { Strictness, ValidationResult } from '../api/learning.js';
import { HearthError } from '../errors/hearth-error.js';
import { normalizeScript } from './normalize.js';
import type { Thesaurus } from './thesaurus.js';

export const STRICTNESS: readonly Strictness[] = ['permissive', 'normal', 'strict'];

/** Unknown terms given suggestions (each scans the known terms); the rest are listed without. */
const MAX_SUGGESTED = 8;
const NEAREST_PER_TERM = 3;
/** Commands of one input checked: far more than a real script has, few enough to stay fast. */
const MAX_CHECKED_COMMANDS = 10_000;

/** Edit distance (insert, delete, substitute, swap of neighbours), giving up past `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (prev2[j - 2] as number) + 1);
      cur.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > max) return max + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length] as number;
}

/** Known terms within an edit distance that grows with the length of the term. */
function nearest(term: string, candidates: Iterable<string>): string[] {
  const max = term.length <= 4 ? 1 : term.length <= 8 ? 2 : 3;
  const found: Array<{ t: string; d: number }> = [];
  for (const t of candidates) {
    if (t === term) continue;
    const d = editDistance(term, t, max);
    if (d <= max) found.push({ t, d });
  }
  found.sort((x, y) => x.d - y.d || x.t.localeCompare(y.t));
  return found.slice(0, NEAREST_PER_TERM).map((f) => f.t);
}

/** Checks input (a command line or a script) against the thesaurus. */
export function validateInput(
  thesaurus: Thesaurus,
  input: string,
  strictness: Strictness = 'normal',
): ValidationResult {
  const text = input.toLowerCase();
  const matchedTerms = thesaurus.match(text);
  const unknown: string[] = [];
  for (const command of normalizeScript(text, 0, MAX_CHECKED_COMMANDS)) {
    const [program = '', sub] = command.split(' ');
    if (!thesaurus.isProgram(program)) unknown.push(program);
    else if (sub && sub !== '-m' && thesaurus.hasSubcommands(program) && !thesaurus.has(command))
      unknown.push(command);
  }
  const unknownTerms = [...new Set(unknown)];
  const suggestions: string[] = [];
  let typos = 0;
  for (const term of unknownTerms.slice(0, MAX_SUGGESTED)) {
    const [program = '', sub] = term.split(' ');
    const near = sub
      ? nearest(term, thesaurus.subcommandsOf(program))
      : nearest(program, thesaurus.programs());
    if (near.length) typos++;
    for (const n of near) if (!suggestions.includes(n)) suggestions.push(n);
  }
  const isValid =
    strictness === 'permissive' || (strictness === 'normal' ? typos === 0 : unknownTerms.length === 0);
  const parts = [`${matchedTerms.length} known term${matchedTerms.length === 1 ? '' : 's'}`];
  if (unknownTerms.length) parts.push(`unknown: ${unknownTerms.join(', ')}`);
  if (suggestions.length) parts.push(`did you mean: ${suggestions.join(', ')}`);
  const verdict = isValid ? 'valid' : 'refused';
  return {
    isValid,
    matchedTerms,
    unknownTerms,
    suggestions,
    strictness,
    message: `${verdict} (${strictness}): ${parts.join('; ')}`,
  };
}

/** Throws INPUT_REJECTED (422) when the result is not valid; the result goes with the error. */
export function assertValid(result: ValidationResult): void {
  if (result.isValid) return;
  throw new HearthError('INPUT_REJECTED', result.message, {
    details: {
      strictness: result.strictness,
      unknownTerms: result.unknownTerms,
      suggestions: result.suggestions,
    },
  });
}
