/**
 * Path confinement for the files API: everything stays inside the work dir or /tmp, after `..`
 * and after following every symlink that exists on the way.
 */
import { chownSync, lstatSync, mkdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { GuestError } from './guest-error.js';

/** Who programs run as, when the agent runs as root (in a microVM): they never get root. */
export interface ProgramUser {
  uid: number;
  gid: number;
}

export class Confinement {
  readonly workDir: string;
  /** Owner of the work dir and of what the files API writes; undefined: the agent's own uid. */
  readonly owner: ProgramUser | undefined;
  /** Allowed roots as given and as real paths (both, so a lexical check needs no syscalls). */
  readonly #roots: string[];
  readonly #realRoots: string[];

  constructor(workDir: string, extraRoots: string[] = ['/tmp'], owner?: ProgramUser) {
    this.workDir = resolve(workDir);
    this.owner = owner;
    mkdirSync(this.workDir, { recursive: true });
    if (owner) chownSync(this.workDir, owner.uid, owner.gid);
    const roots = [this.workDir, ...extraRoots.map((r) => resolve(r))];
    this.#roots = roots;
    this.#realRoots = roots.map((r) => {
      try {
        return realpathSync(r);
      } catch {
        return r;
      }
    });
  }

  /**
   * The absolute path for `path`, or PATH_ESCAPE. Relative paths resolve against the work dir.
   * Symlinks are resolved on the deepest existing ancestor (the final component included).
   */
  resolve(path: string): string {
    if (typeof path !== 'string' || path === '' || path.includes('\0'))
      throw new GuestError('BAD_REQUEST', 'path must be a non-empty string');
    const abs = isAbsolute(path) ? resolve(path) : resolve(this.workDir, path);
    if (!this.#roots.some((r) => within(r, abs)))
      throw new GuestError('PATH_ESCAPE', `${path} is outside the work dir and /tmp`);
    const real = realOfDeepest(abs);
    if (!this.#realRoots.some((r) => within(r, real)))
      throw new GuestError('PATH_ESCAPE', `${path} leads outside the work dir and /tmp through a symlink`);
    return abs;
  }

  /** True for the work dir and /tmp themselves (which may not be removed). */
  isRoot(abs: string): boolean {
    return this.#roots.includes(abs);
  }

  /** `abs` relative to the work dir when inside it, else as is. */
  display(abs: string): string {
    return within(this.workDir, abs) ? relative(this.workDir, abs) || '.' : abs;
  }
}

function within(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * realpath of the deepest existing ancestor, with the missing tail appended. A dangling symlink on
 * the way is followed by hand (realpath fails on it, but a write would follow it).
 */
function realOfDeepest(abs: string, depth = 0): string {
  if (depth > 40) throw new GuestError('PATH_ESCAPE', `${abs}: too many symlinks`);
  let existing = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(existing);
      return tail.length ? resolve(real, ...tail.reverse()) : real;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new GuestError('PATH_ESCAPE', `${abs}: too many symlinks`);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const target = danglingTarget(existing);
      if (target !== undefined)
        return realOfDeepest(resolve(dirname(existing), target, ...tail.reverse()), depth + 1);
      const up = dirname(existing);
      if (up === existing) return abs;
      tail.push(existing.slice(up.length + (up.endsWith(sep) ? 0 : 1)));
      existing = up;
    }
  }
}

function danglingTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
