import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { HearthError } from '../errors/hearth-error.js';
import { mountsUnder } from './in-use.js';

const run = promisify(execFile);

/**
 * Removes a directory tree that may still have mounts inside it (an interrupted debootstrap leaves
 * /proc and /sys mounted in its target): unmounts them first, deepest first, and never crosses into
 * another filesystem, so a leftover mount can never take host files with it.
 */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const mountPoint of mountsUnder(dir)) {
    await run('umount', ['--lazy', mountPoint]).catch(() => undefined);
  }
  try {
    await run('rm', ['-rf', '--one-file-system', '--', dir]);
  } catch (err) {
    throw new HearthError('INTERNAL', `cannot remove ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
