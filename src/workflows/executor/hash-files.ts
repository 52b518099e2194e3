/**
 * hashFiles() against the job's workspace inside its sandbox: the files are listed and read through
 * the agent, then selected and digested as src/workflows/hash-files.ts does on the host.
 */
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import type { HashFiles } from '../expressions.js';
import { digestFiles, selectFiles } from '../hash-files.js';

/** Bounds the walk: the workspace is the sandbox's, so its size is the workflow's doing. */
const MAX_FILES = 100_000;
const MAX_DEPTH = 64;

export function sandboxHashFiles(sandbox: ManagedSandbox, workspace: string): HashFiles {
  return async (patterns) => {
    const files: string[] = [];
    const walk = async (rel: string, depth: number): Promise<void> => {
      if (depth > MAX_DEPTH || files.length >= MAX_FILES) return;
      const entries = await sandbox.list(rel === '' ? workspace : `${workspace}/${rel}`);
      for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const path = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.type === 'dir') await walk(path, depth + 1);
        else if (e.type === 'file' && files.length < MAX_FILES) files.push(path);
      }
    };
    await walk('', 0);
    const contents: Buffer[] = [];
    for (const path of selectFiles(files, patterns))
      contents.push(await sandbox.readFile(`${workspace}/${path}`));
    return digestFiles(contents);
  };
}
