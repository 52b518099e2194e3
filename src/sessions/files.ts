import type { FileStat } from '../agent/protocol.js';
import type { FileEntry } from '../api/sessions.js';
import { HearthError } from '../errors/hearth-error.js';
import type { ManagedSandbox } from '../sandboxes/managed-sandbox.js';

/** Entries one listing returns at most, whatever the depth. */
const MAX_ENTRIES = 10_000;

export function toEntry(s: FileStat): FileEntry {
  return {
    name: s.name,
    path: s.path,
    type: s.type,
    size: s.size,
    mode: s.mode,
    mtime: new Date(s.mtimeMs).toISOString(),
    ...(s.uid === undefined ? {} : { uid: s.uid }),
    ...(s.gid === undefined ? {} : { gid: s.gid }),
    ...(s.target === undefined ? {} : { symlinkTarget: s.target }),
  };
}

/** A directory listing `depth` levels down (1: its own entries), breadth first, capped. */
export async function listTree(sandbox: ManagedSandbox, path: string, depth = 1): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  let level = [path];
  for (let d = 0; d < depth && level.length; d++) {
    const next: string[] = [];
    for (const dir of level) {
      for (const s of await sandbox.list(dir)) {
        if (out.length >= MAX_ENTRIES) {
          throw new HearthError('VALIDATION_FAILED', `more than ${MAX_ENTRIES} entries under ${path}`, {
            hint: 'List a smaller directory or a lower depth.',
          });
        }
        out.push(toEntry(s));
        if (s.type === 'dir') next.push(`${dir.replace(/\/+$/, '')}/${s.name}`);
      }
    }
    level = next;
  }
  return out;
}

/**
 * Renames inside the sandbox. The agent resolves both paths first (refusing escapes as for every
 * file call) and says what is wrong with them in its own codes: the source must exist, the target
 * must not, and its parent must be a directory. The move itself is `mv` run in the sandbox, so it
 * can do nothing the sandbox's own programs cannot; its stderr is only quoted, never interpreted.
 */
export async function rename(sandbox: ManagedSandbox, from: string, to: string): Promise<FileEntry> {
  await sandbox.stat(from);
  const taken = await sandbox.stat(to).then(
    () => true,
    (err: unknown) => {
      if (err instanceof HearthError && err.code === 'FILE_NOT_FOUND') return false;
      throw err;
    },
  );
  if (taken) throw new HearthError('FILE_EXISTS', `cannot move ${from} to ${to}: ${to} exists`);
  const trimmed = to.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  const parent = cut < 0 ? '.' : cut === 0 ? '/' : trimmed.slice(0, cut);
  if ((await sandbox.stat(parent)).type !== 'dir')
    throw new HearthError('NOT_A_DIRECTORY', `cannot move ${from} to ${to}: ${parent} is not a directory`);
  const r = await sandbox.run({ argv: ['mv', '-T', '--', from, to], limits: { timeoutMs: 30_000 } });
  if (r.exitCode !== 0) {
    const why = r.stderr.toString('utf8').trim().slice(0, 500);
    throw new HearthError(
      'VALIDATION_FAILED',
      `cannot move ${from} to ${to}: ${why || `mv exited ${r.exitCode}`}`,
    );
  }
  return toEntry(await sandbox.stat(to));
}
