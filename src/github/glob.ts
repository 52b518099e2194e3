/**
 * GitHub's filter patterns (branches, tags, paths of an `on:` trigger), which are not shell globs:
 * `*` is any run of characters but `/`, `**` any run including `/`, `?` makes the character before
 * it optional and `+` repeats it, `[a-z0-9]` is one character of a set, `\` escapes. A pattern in a
 * list that starts with `!` excludes what matched before it; the last pattern that matches decides.
 */

const cache = new Map<string, RegExp>();
const CACHE_MAX = 512;

const escapeRe = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The regular expression of one pattern (without a leading `!`). */
export function filterPatternRegExp(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let out = '';
  // Where a `?` or `+` may apply: only right after a character or a set.
  let quantifiable = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` also matches no directory at all, so `**/README.md` matches `README.md`.
        if (pattern[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
      quantifiable = false;
    } else if ((c === '?' || c === '+') && quantifiable) {
      out += c;
      quantifiable = false;
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end > i + 1) {
        const body = pattern.slice(i + 1, end).replace(/[\\\]^]/g, '\\$&');
        out += `[${body}]`;
        i = end;
        quantifiable = true;
      } else {
        out += '\\[';
        quantifiable = true;
      }
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      out += escapeRe(pattern[i] as string);
      quantifiable = true;
    } else {
      out += escapeRe(c);
      quantifiable = true;
    }
  }
  const re = new RegExp(`^${out}$`, 'u');
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(pattern, re);
  return re;
}

/**
 * Does `value` pass an ordered list of patterns: the last pattern that matches decides (a `!`
 * pattern excludes), nothing matching excludes.
 */
export function matchesFilterList(value: string, patterns: readonly string[]): boolean {
  let included = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    if (filterPatternRegExp(negated ? p.slice(1) : p).test(value)) included = !negated;
  }
  return included;
}
