/**
 * The repository's files, copied from a host directory into the job's workspace in the sandbox.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';

/** Copies `hostDir` into `workspace`, keeping modes; symlinks and special files are skipped. */
export async function copyWorkspace(
  sandbox: ManagedSandbox,
  hostDir: string,
  workspace: string,
): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(hostDir, rel), { withFileTypes: true })) {
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        await sandbox.mkdir(`${workspace}/${relPath}`, { recursive: true });
        await walk(relPath);
      } else if (entry.isFile()) {
        const full = join(hostDir, relPath);
        const { mode } = await stat(full);
        await sandbox.writeFile(`${workspace}/${relPath}`, await readFile(full), { mode: mode & 0o777 });
      }
    }
  };
  await walk('');
}
