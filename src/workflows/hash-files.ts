/**
 * hashFiles() as GitHub's runner computes it: the files under the workspace that the patterns select
 * (`!` excludes, `**` spans directories, a matched directory brings its files), in depth-first name
 * order; the SHA-256 of their SHA-256 digests; '' when nothing matches. The executor lists and reads
 * the files in the sandbox; hashFilesInDirectory does the same for a directory on this host.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Bounds the walk of a host directory. @default 100_000 */
const MAX_FILES = 100_000;

/** The paths (relative, `/`-separated) the patterns select, in the runner's order. */
export function selectFiles(paths: readonly string[], patterns: readonly string[]): string[] {
  const rules = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith('#'))
    .map((p) =>
      p.startsWith('!')
        ? { exclude: true, re: globRegExp(p.slice(1)) }
        : { exclude: false, re: globRegExp(p) },
    );
  const chosen = paths.filter((path) => {
    let keep = false;
    for (const rule of rules) if (rule.re.test(path)) keep = !rule.exclude;
    return keep;
  });
  return chosen.sort(compareDepthFirst);
}

/** The digest of the files' contents, in the order given; '' for none. */
export function digestFiles(contents: Iterable<Uint8Array>): string {
  const result = createHash('sha256');
  let count = 0;
  for (const content of contents) {
    result.update(createHash('sha256').update(content).digest());
    count++;
  }
  return count === 0 ? '' : result.digest('hex');
}

/** hashFiles() over a directory on this host. */
export async function hashFilesInDirectory(root: string, patterns: readonly string[]): Promise<string> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .slice(0, MAX_FILES)
    .map((e) =>
      join(e.parentPath, e.name)
        .slice(root.length + 1)
        .split('\\')
        .join('/'),
    );
  const contents: Uint8Array[] = [];
  for (const path of selectFiles(files, patterns)) contents.push(await readFile(join(root, path)));
  return digestFiles(contents);
}

/** A pattern (relative to the workspace) as a regular expression over relative file paths. */
function globRegExp(pattern: string): RegExp {
  const segments = pattern
    .replace(/^\.\//, '')
    .split('/')
    .filter((s) => s !== '' && s !== '.');
  const parts = segments.map((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '**') return last ? '.*' : '(?:[^/]+/)*';
    const body = seg
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*+/g, '[^/]*')
      .replace(/\?/g, '[^/]');
    return last ? body : `${body}/`;
  });
  // A matched directory selects what is under it.
  return new RegExp(`^${parts.join('')}(?:/.*)?$`);
}

function compareDepthFirst(a: string, b: string): number {
  const sa = a.split('/');
  const sb = b.split('/');
  for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
    const x = sa[i] ?? '';
    const y = sb[i] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return sa.length - sb.length;
}
