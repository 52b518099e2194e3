import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { FileEntry } from '../../../api/sessions.js';
import { type EntryInfo, EntryInfoSchema, FileType } from '../../../e2b/gen/filesystem_pb.js';
import type { ErrorCode } from '../../../errors/codes.js';
import { HearthError } from '../../../errors/hearth-error.js';
import { agentPathToAbsolute } from './envd-paths.js';

/** Names E2B's images give the ids hearth's sandboxes use: the sandbox user is E2B's `user`. */
const ACCOUNT_NAMES = new Map<number, string>([
  [0, 'root'],
  [1000, 'user'],
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
 * (a FIFO, socket or device node) is shown as a file: it is there, and it is not a directory.
 */
export function toEntryInfo(e: FileEntry): EntryInfo {
  const type =
    e.type === 'dir' ? FileType.DIRECTORY : e.type === 'symlink' ? FileType.SYMLINK : FileType.FILE;
  const mtimeMs = Date.parse(e.mtime);
  return create(EntryInfoSchema, {
    name: e.name,
    type,
    path: agentPathToAbsolute(e.path),
    size: BigInt(Math.max(0, Math.trunc(e.size))),
    mode: e.mode & 0o777,
    permissions: permissionString(e.type, e.mode),
    owner: accountName(e.uid),
    group: accountName(e.gid),
    ...(Number.isFinite(mtimeMs) ? { modifiedTime: timestampFromMs(mtimeMs) } : {}),
    ...(e.symlinkTarget === undefined ? {} : { symlinkTarget: e.symlinkTarget }),
  });
}

const CONNECT_CODES: Partial<Record<ErrorCode, Code>> = {
  FILE_NOT_FOUND: Code.NotFound,
  NOT_FOUND: Code.NotFound,
  FILE_EXISTS: Code.AlreadyExists,
  BAD_REQUEST: Code.InvalidArgument,
  VALIDATION_FAILED: Code.InvalidArgument,
  PATH_ESCAPE: Code.InvalidArgument,
  NOT_A_DIRECTORY: Code.InvalidArgument,
  IS_A_DIRECTORY: Code.InvalidArgument,
  FILE_TOO_LARGE: Code.ResourceExhausted,
  SESSION_NOT_FOUND: Code.Unavailable,
  SESSION_DEAD: Code.Unavailable,
  SANDBOX_LOST: Code.Unavailable,
  SHUTTING_DOWN: Code.Unavailable,
  AGENT_TIMEOUT: Code.DeadlineExceeded,
};

/**
 * The Connect error for anything a filesystem handler threw: hearth's codes map to the Connect
 * codes the SDK turns into its own errors (`not_found` → FileNotFoundError, `already_exists` →
 * makeDir's `false`, `unavailable` → a sandbox timeout). Anything unknown is `internal`, with no
 * detail beyond the message.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof HearthError) {
    const message = err.hint ? `${err.message} (${err.hint})` : err.message;
    return new ConnectError(message, CONNECT_CODES[err.code] ?? Code.Internal);
  }
  return new ConnectError('internal error', Code.Internal);
}
