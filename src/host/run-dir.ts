import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { HearthError } from '../errors/hearth-error.js';

/**
 * The mode of the run dir itself (`paths.run`): every sandbox uid may pass through it (a bwrap
 * job's work dir lies below it and is opened as that uid), only root may list it. Each backend
 * gives its own per-sandbox dirs the mode it needs (0700 for runsc's and QEMU's, 0755 for a bwrap
 * work dir).
 */
export const RUN_DIR_MODE = 0o711;

/** Run dirs this process made (or set the mode of), and those checked reachable by other uids. */
const made = new Set<string>();
const reachable = new Set<string>();

/** The first ancestor of `dir` that other users cannot search (pass through), if any. */
function closedAncestor(dir: string): { dir: string; mode: number } | undefined {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o777;
    if (!(mode & 0o001)) return { dir: d, mode };
    if (d === dirname(d)) return undefined;
  }
}

/**
 * Creates the run dir with RUN_DIR_MODE, or sets that mode on one that exists, once per process:
 * its mode must not depend on which backend created it first (a `mkdir -p` with a sandbox's 0700
 * would shut every bwrap uid out of its own work dir), nor on an older hearth that made it.
 * Parents it creates get 0755. With `othersMustReach` (sandboxes whose uids open files below it),
 * a parent that other users cannot pass through is an error that names it, not a "Permission
 * denied" inside a job.
 */
export function ensureRunDir(run: string, opts: { othersMustReach?: boolean } = {}): void {
  if (!made.has(run) || !existsSync(run)) {
    mkdirSync(dirname(run), { recursive: true, mode: 0o755 });
    try {
      mkdirSync(run, { mode: RUN_DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    chmodSync(run, RUN_DIR_MODE);
    made.add(run);
  }
  if (!opts.othersMustReach || reachable.has(run)) return;
  const closed = closedAncestor(run);
  if (closed)
    throw new HearthError(
      'SANDBOX_START_FAILED',
      `${closed.dir} (mode ${closed.mode.toString(8).padStart(4, '0')}) keeps sandbox uids out of the run dir ${run}`,
      {
        hint: `Let other users pass through it (chmod o+x ${closed.dir}), or set HEARTH_STATE_DIR (or HEARTH_RUN_DIR) to a directory whose parents are 0755.`,
      },
    );
  reachable.add(run);
}
