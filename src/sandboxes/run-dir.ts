import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The mode of the run dir itself (`paths.run`): every sandbox uid may pass through it (a bwrap
 * job's work dir lies below it and is opened as that uid), only root may list it. Each backend
 * gives its own per-sandbox dirs the mode it needs (0700 for runsc's and QEMU's, 0755 for a bwrap
 * work dir).
 */
export const RUN_DIR_MODE = 0o711;

const ensured = new Set<string>();

/**
 * Creates the run dir with RUN_DIR_MODE, or sets that mode on one that exists, once per process:
 * its mode must not depend on which backend created it first (a `mkdir -p` with a sandbox's 0700
 * would shut every bwrap uid out of its own work dir), nor on an older hearth that made it.
 * Parents it creates get 0755.
 */
export function ensureRunDir(run: string): void {
  if (ensured.has(run) && existsSync(run)) return;
  mkdirSync(dirname(run), { recursive: true, mode: 0o755 });
  try {
    mkdirSync(run, { mode: RUN_DIR_MODE });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(run, RUN_DIR_MODE);
  ensured.add(run);
}
