/**
 * Who programs run as inside every sandbox, on every backend: the one place the host (images,
 * bwrap, gVisor, the VM's init) and the guest agent take the user, its home and the work dir from.
 *
 * uid 1000 is named `user` with home `/home/user`, as E2B sandboxes have it; the image makes
 * `/home/user` a symlink to `/work`, so both paths name the same directory (the work dir each
 * backend mounts or creates) and hearth's own jobs keep /work.
 */
export const SANDBOX_USER = {
  name: 'user',
  uid: 1000,
  gid: 1000,
  /** The user's home in /etc/passwd and $HOME: a symlink to `workDir` in every image. */
  home: '/home/user',
  /** The work dir: the agent's default cwd and what filesystem snapshots keep. */
  workDir: '/work',
} as const;

/** The PATH every sandbox process starts with: the tools layer first, then the image's dirs. */
export const SANDBOX_PATH = '/.hearth/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The environment every sandbox program starts from, before the spec's and the exec's own. */
export function sandboxBaseEnv(): Record<string, string> {
  return {
    PATH: SANDBOX_PATH,
    HOME: SANDBOX_USER.home,
    USER: SANDBOX_USER.name,
    LOGNAME: SANDBOX_USER.name,
    LANG: 'C.UTF-8',
  };
}
