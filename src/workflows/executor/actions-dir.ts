/**
 * Where a `uses:` points: a local action in the workspace (`./path`), a remote action
 * (`owner/repo[/path]@ref`, taken from the local actions directory, never downloaded) or a docker
 * image (refused). The actions directory's layout is `<dir>/<owner>/<repo>@<ref>/[path/]action.yml`.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join, posix, sep } from 'node:path';
import { HearthError } from '../../errors/hearth-error.js';

export type ActionRef =
  | { kind: 'local'; path: string }
  | { kind: 'remote'; owner: string; repo: string; path: string; ref: string }
  | { kind: 'docker'; image: string };

/** A name segment of owner, repo, ref and path: no separators, no `.`/`..` to climb out with. */
const SEGMENT = /^[A-Za-z0-9_.-]+$/;
export const ACTION_FILES = ['action.yml', 'action.yaml'] as const;

/** Reads a `uses:` value; a malformed one is a WORKFLOW_INVALID naming it. */
export function parseUses(uses: string): ActionRef {
  const text = uses.trim();
  if (text.startsWith('docker://')) return { kind: 'docker', image: text.slice('docker://'.length) };
  if (text.startsWith('./') || text === '.' || text.startsWith('../'))
    return { kind: 'local', path: posix.normalize(text) };
  const at = text.lastIndexOf('@');
  const parts = (at < 0 ? text : text.slice(0, at)).split('/');
  const ref = at < 0 ? '' : text.slice(at + 1);
  const [owner = '', repo = '', ...path] = parts;
  const ok = [owner, repo, ref, ...path].every((s) => SEGMENT.test(s) && s !== '.' && s !== '..');
  if (!ok) {
    throw new HearthError(
      'WORKFLOW_INVALID',
      `uses: '${uses}' is not an action: expected ./path, docker://image or {owner}/{repo}[/path]@ref`,
    );
  }
  return { kind: 'remote', owner, repo, path: path.join('/'), ref };
}

/** `owner/repo` of a remote ref, lower-cased as GitHub compares them. */
export function actionName(ref: { owner: string; repo: string }): string {
  return `${ref.owner}/${ref.repo}`.toLowerCase();
}

/**
 * The host folder of a remote action's repository (`<dir>/<owner>/<repo>@<ref>`), checked to hold an
 * action file at its path; otherwise WORKFLOW_ACTION_UNAVAILABLE naming the action and the directory.
 */
export function findRemoteAction(
  ref: Extract<ActionRef, { kind: 'remote' }>,
  actionsDir: string | undefined,
): { repoDir: string; actionFile: string } {
  const name = `${ref.owner}/${ref.repo}${ref.path ? `/${ref.path}` : ''}@${ref.ref}`;
  if (!actionsDir) {
    throw new HearthError(
      'WORKFLOW_ACTION_UNAVAILABLE',
      `action '${name}' is not available: no actions directory is set (HEARTH_ACTIONS_DIR), and hearth does not download actions`,
    );
  }
  const repoDir = join(actionsDir, ref.owner, `${ref.repo}@${ref.ref}`);
  const actionDir = ref.path ? join(repoDir, ...ref.path.split('/')) : repoDir;
  const missing = () =>
    new HearthError(
      'WORKFLOW_ACTION_UNAVAILABLE',
      `action '${name}' is not in the actions directory ${actionsDir} (looked for ${join(actionDir, 'action.yml')} or action.yaml)`,
    );
  const found = ACTION_FILES.map((f) => join(actionDir, f)).find(
    (f) => existsSync(f) && statSync(f).isFile(),
  );
  if (!found) throw missing();
  // A symlink inside the directory must not lead the copy out of it.
  const root = realpathSync(actionsDir);
  if (!realpathSync(found).startsWith(root + sep)) throw missing();
  return { repoDir, actionFile: found };
}

export function unavailable(message: string): HearthError {
  return new HearthError('WORKFLOW_ACTION_UNAVAILABLE', message);
}
