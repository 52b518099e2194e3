import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HearthError } from '../errors/hearth-error.js';

/** Where repositories come from: a local mirror directory, or a git server over HTTPS. */
export type RepositorySource =
  | { kind: 'mirror' /** Holds `<owner>/<repo>.git`. */; dir: string }
  | { kind: 'https' /** @default https://github.com */; serverUrl?: string; token?: string };

export interface FetchRepositoryOptions {
  /** `owner/name` (already validated: see events.ts). */
  repository: string;
  source: RepositorySource;
  /** An empty or missing directory; the checkout goes there. */
  dir: string;
  /** The commit; when undefined, `ref`'s tip. */
  sha?: string;
  /** Fetched when `sha` is undefined, or when the server will not hand out `sha` by itself. */
  ref?: string;
  /** More commits whose history is wanted (a pull request's base, for its diff). */
  alsoFetch?: readonly string[];
  /** Each git command's limit. @default 120000 */
  timeoutMs?: number;
}

interface Git {
  run(args: readonly string[]): Promise<string>;
}

function gitIn(dir: string, env: NodeJS.ProcessEnv, timeoutMs: number, secret?: string): Git {
  const scrub = (s: string) => (secret ? s.split(secret).join('***') : s);
  return {
    run: (args) =>
      new Promise((resolve, reject) => {
        execFile(
          'git',
          ['-C', dir, ...args],
          { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) => {
            if (!err) return resolve(stdout);
            const detail = scrub(String(stderr).trim().split('\n').slice(-3).join(' | ') || err.message);
            reject(
              new HearthError('REPOSITORY_FETCH_FAILED', `git ${args[0]} failed: ${detail}`, { cause: err }),
            );
          },
        );
      }),
  };
}

/** The remote URL, and the environment that authenticates to it without putting the token in argv. */
function remoteOf(o: FetchRepositoryOptions): { url: string; env: NodeJS.ProcessEnv; secret?: string } {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    LANG: 'C',
  };
  if (o.source.kind === 'mirror') {
    const path = join(o.source.dir, `${o.repository}.git`);
    if (!existsSync(path)) {
      throw new HearthError('REPOSITORY_FETCH_FAILED', `no mirror of ${o.repository} at ${path}`, {
        hint: 'Create it (`git clone --mirror`) under HEARTH_GITHUB_MIRROR_DIR, or unset the variable to fetch over HTTPS.',
      });
    }
    // git refuses a repository another user owns unless it is named safe; the mirror is trusted by configuration.
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'safe.directory',
      GIT_CONFIG_VALUE_0: path,
    });
    return { url: `file://${path}`, env };
  }
  const server = (o.source.serverUrl ?? 'https://github.com').replace(/\/+$/, '');
  const url = `${server}/${o.repository}.git`;
  if (!o.source.token) return { url, env };
  const basic = Buffer.from(`x-access-token:${o.source.token}`).toString('base64');
  // Scoped to the server's URL, so a redirect elsewhere does not carry the token.
  Object.assign(env, {
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: `http.${server}/.extraHeader`,
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
  });
  return { url, env, secret: basic };
}

/**
 * Checks out a repository at a commit into `dir` with git: a blob-less fetch of the commit (and of
 * `alsoFetch`, with history, so diffs between them work), then a detached checkout. Returns the
 * commit checked out. Fails with REPOSITORY_FETCH_FAILED; the caller removes `dir`.
 */
export async function fetchRepository(o: FetchRepositoryOptions): Promise<{ sha: string }> {
  const { url, env, secret } = remoteOf(o);
  const git = gitIn(o.dir, env, o.timeoutMs ?? 120_000, secret);
  await new Promise<void>((resolve, reject) =>
    execFile('git', ['init', '-q', o.dir], { env, timeout: 30_000 }, (err) =>
      err ? reject(new HearthError('REPOSITORY_FETCH_FAILED', `git init failed: ${err.message}`)) : resolve(),
    ),
  );
  await git.run(['remote', 'add', 'origin', url]);
  const fetch = (what: readonly string[]) =>
    git.run(['fetch', '-q', '--no-tags', '--filter=blob:none', 'origin', ...what]);
  const extra = [...(o.alsoFetch ?? [])];
  if (o.sha) {
    try {
      await fetch([o.sha, ...extra]);
    } catch (err) {
      if (!o.ref) throw err;
      await fetch([o.ref, ...extra]);
    }
  } else if (o.ref) await fetch([o.ref, ...extra]);
  else throw new HearthError('REPOSITORY_FETCH_FAILED', 'neither a commit nor a ref to fetch');
  const sha = (await git.run(['rev-parse', '--verify', `${o.sha ?? 'FETCH_HEAD'}^{commit}`])).trim();
  await git.run(['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', sha]);
  return { sha };
}

/** The files that differ between a base and a head commit in a fetched repository (three-dot, as a pull request's); undefined if git cannot tell. */
export async function changedFilesBetween(
  o: Pick<FetchRepositoryOptions, 'dir' | 'timeoutMs'> & { base: string; head: string },
): Promise<string[] | undefined> {
  const git = gitIn(o.dir, { PATH: process.env.PATH, GIT_TERMINAL_PROMPT: '0' }, o.timeoutMs ?? 120_000);
  try {
    const out = await git.run(['diff', '--name-only', '--no-renames', '-z', `${o.base}...${o.head}`]);
    return out.split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}
