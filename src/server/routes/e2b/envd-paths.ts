import { posix } from 'node:path';
import { SANDBOX_USER } from '../../../agent/sandbox-user.js';
import { HearthError } from '../../../errors/hearth-error.js';

/**
 * Where an E2B user's relative paths resolve: the sandbox user's home, `/home/user` as in E2B's
 * sandboxes (a symlink to the work dir in hearth's images).
 */
const USER_HOME = SANDBOX_USER.home;

/** The Linux users an E2B client may name. Both map to hearth's one sandbox user. */
export type EnvdUser = 'user' | 'root';

const MAX_PATH_CHARS = 4096;

/**
 * The user an envd request names: `username=` on `/files`, or `Authorization: Basic
 * base64("<user>:")` on the RPCs. Neither: `user`. hearth runs every program as the sandbox's own
 * user, so `root` is accepted (the SDK's default for some templates) but changes nothing; any other
 * name is refused, as E2B refuses users the sandbox lacks.
 */
export function envdUser(o: { authorization?: string | undefined; username?: string | undefined }): EnvdUser {
  let name = o.username;
  const m = o.authorization === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(o.authorization);
  if (name === undefined && m?.[1]) {
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    name = colon < 0 ? decoded : decoded.slice(0, colon);
  }
  if (name === undefined || name === '' || name === 'user') return 'user';
  if (name === 'root') return 'root';
  throw new HearthError('VALIDATION_FAILED', `unknown user ${JSON.stringify(name.slice(0, 64))}`, {
    hint: 'Name the user `user` or `root`, or name none.',
  });
}

/**
 * The absolute path an envd request means: relative paths (and the empty path, which is the home
 * itself) resolve against the user's home; `..` is folded so the agent sees a plain path.
 */
export function resolveUserPath(path: string, _user: EnvdUser): string {
  if (typeof path !== 'string' || path.length > MAX_PATH_CHARS || path.includes('\0')) {
    throw new HearthError('VALIDATION_FAILED', 'path must be a string of at most 4096 characters, no NUL', {
      hint: "Send an absolute path, or one relative to the user's home.",
    });
  }
  return posix.resolve(USER_HOME, path);
}

/** The absolute form of a path as the agent reports it (relative to the work dir when inside it). */
export function agentPathToAbsolute(path: string): string {
  return posix.resolve(SANDBOX_USER.workDir, path);
}
