import { createHash } from 'node:crypto';
import { constants, lstatSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HearthError } from '../../errors/hearth-error.js';
import type { BackendName, SnapshotInfo, SnapshotKind } from '../backend.js';

/** The refusal of a kind `backend` does not keep; the hint names the kind it does keep. */
export function kindUnsupported(backend: BackendName, asked: SnapshotKind, has: SnapshotKind): HearthError {
  return new HearthError(
    'SNAPSHOT_KIND_UNSUPPORTED',
    `${backend} cannot make or restore ${asked} snapshots`,
    {
      hint: `${backend} keeps ${has} snapshots only: ask for kind "${has}"${has === 'memory' ? '' : ', or use a qemu sandbox for memory snapshots'}.`,
    },
  );
}

export interface SnapshotExpectations {
  /** The backend restoring. */
  backend: BackendName;
  /** Backends whose snapshots it can restore (their files have the same format). */
  from: readonly BackendName[];
  /** The one kind it keeps. */
  kind: SnapshotKind;
  /** Files that must be in `snap.dir`, each with its SHA-256 in `meta['sha256:<file>']`. */
  files: readonly string[];
  /** Facts that must equal the snapshot's `meta` (format, build, shape). */
  meta: Record<string, string | number | boolean>;
}

/**
 * Checks a snapshot before a restore uses it: the kind, the backend and build it came from, and its
 * files (regular files, not links, of the recorded size and SHA-256). The info comes back from the
 * caller's store, so every field is checked, never trusted.
 */
export async function checkSnapshot(snap: SnapshotInfo, want: SnapshotExpectations): Promise<void> {
  if (typeof snap !== 'object' || snap === null || typeof snap.dir !== 'string' || !snap.dir)
    throw new HearthError('SNAPSHOT_MISSING', 'the snapshot record has no directory');
  if (snap.kind !== want.kind) throw kindUnsupported(want.backend, snap.kind, want.kind);
  if (!want.from.includes(snap.backend))
    throw new HearthError(
      'SNAPSHOT_INCOMPATIBLE',
      `a ${String(snap.backend)} snapshot cannot be restored on ${want.backend}`,
    );
  const meta = typeof snap.meta === 'object' && snap.meta !== null ? snap.meta : {};
  for (const [key, value] of Object.entries(want.meta)) {
    if (meta[key] !== value)
      throw new HearthError(
        'SNAPSHOT_INCOMPATIBLE',
        `the snapshot's ${key} is ${JSON.stringify(meta[key])}, this host's is ${JSON.stringify(value)}`,
      );
  }
  let total = 0;
  for (const f of want.files) {
    const st = lstatSync(join(snap.dir, f), { throwIfNoEntry: false });
    if (!st?.isFile())
      throw new HearthError('SNAPSHOT_MISSING', `the snapshot file ${join(snap.dir, f)} is missing`);
    total += st.size;
  }
  if (Number.isFinite(snap.sizeBytes) && total !== snap.sizeBytes)
    throw new HearthError(
      'SNAPSHOT_MISSING',
      `the snapshot's files in ${snap.dir} hold ${total} bytes, ${snap.sizeBytes} were saved`,
    );
  for (const f of want.files) {
    const path = join(snap.dir, f);
    const expected = meta[`sha256:${f}`];
    if (verifiedEarlier(path, expected)) continue;
    if ((await sha256OfFile(path)) !== expected)
      throw new HearthError('SNAPSHOT_MISSING', `the snapshot file ${path} is damaged`);
    rememberVerified(path, String(expected));
  }
}

/**
 * Files this process wrote or hashed, with the inode, size and times they had then. A file that
 * still has them is the same file: it was not rewritten (a write moves mtime and ctime, and ctime
 * cannot be set back without root). Restoring it skips the hash, which costs about as much as a
 * VM's template restore; after a restart every file is hashed again.
 */
const verified = new Map<
  string,
  { sha256: string; ino: number; size: number; mtimeMs: number; ctimeMs: number }
>();
const MAX_VERIFIED = 4096;

export function rememberVerified(path: string, sha256: string): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isFile()) return;
  if (verified.size >= MAX_VERIFIED) verified.delete(verified.keys().next().value as string);
  verified.set(path, { sha256, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
}

function verifiedEarlier(path: string, sha256: unknown): boolean {
  const seen = verified.get(path);
  if (!seen || seen.sha256 !== sha256) return false;
  const st = lstatSync(path, { throwIfNoEntry: false });
  return (
    !!st?.isFile() &&
    st.ino === seen.ino &&
    st.size === seen.size &&
    st.mtimeMs === seen.mtimeMs &&
    st.ctimeMs === seen.ctimeMs
  );
}

/** The SHA-256 of a file (hex), streamed: a VM's state is hundreds of MiB. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  await pipeline(file.createReadStream(), hash);
  return hash.digest('hex');
}

/** The caller's directory, which must exist and be empty: nothing of another snapshot is overwritten. */
export function checkTargetDir(dir: string): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory())
    throw new HearthError(
      'VALIDATION_FAILED',
      `snapshot directory ${dir} does not exist or is not a directory`,
    );
  if (readdirSync(dir).length > 0)
    throw new HearthError('VALIDATION_FAILED', `snapshot directory ${dir} is not empty`);
}
