import { posix } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { SANDBOX_USER } from '../../../agent/sandbox-user.js';
import type { FileEntry } from '../../../api/sessions.js';
import { type EntryInfo, EntryInfoSchema, FileType } from '../../../e2b/gen/filesystem_pb.js';
import { agentPathToAbsolute } from './envd-paths.js';

/** Account names of the ids hearth's sandboxes use; any other id is shown as its number, as envd does. */
const ACCOUNT_NAMES = new Map<number, string>([
  [0, 'root'],
  [SANDBOX_USER.uid, SANDBOX_USER.name],
]);

function accountName(id: number | undefined): string {
  if (id === undefined) return '';
  return ACCOUNT_NAMES.get(id) ?? String(id);
}

/** `-rw-r--r--` as `ls -l` prints it, from the entry's type and permission bits. */
export function permissionString(type: FileEntry['type'], mode: number): string {
  const kind = type === 'dir' ? 'd' : type === 'symlink' ? 'l' : '-';
  let out = kind;
  for (const shift of [6, 3, 0]) {
    const bits = (mode >> shift) & 7;
    out += (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (bits & 1 ? 'x' : '-');
  }
  return out;
}

/**
 * envd's entry for a hearth file entry. The SDK skips entries of unspecified type, so `other`
 * (a FIFO, socket or device node) is shown as a file: it is there, and it is not a directory. A
 * symlink is shown as one, with its target; it is not followed (newer envd versions give a link
 * to a file the type `file`).
 */
export function toEntryInfo(e: FileEntry): EntryInfo {
  const path = agentPathToAbsolute(e.path);
  const type =
    e.type === 'dir' ? FileType.DIRECTORY : e.type === 'symlink' ? FileType.SYMLINK : FileType.FILE;
  const mtimeMs = Date.parse(e.mtime);
  return create(EntryInfoSchema, {
    name: e.name,
    type,
    path,
    size: BigInt(Math.max(0, Math.trunc(e.size))),
    mode: e.mode & 0o777,
    permissions: permissionString(e.type, e.mode),
    owner: accountName(e.uid),
    group: accountName(e.gid),
    ...(Number.isFinite(mtimeMs) ? { modifiedTime: timestampFromMs(mtimeMs) } : {}),
    // envd gives the target as an absolute path; a relative one is relative to the link's dir.
    ...(e.symlinkTarget === undefined
      ? {}
      : { symlinkTarget: posix.resolve(posix.dirname(path), e.symlinkTarget) }),
  });
}
