import { createHash } from 'node:crypto';
import { closeSync, constants, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../agent/client.js';
import type { ExecExit } from '../../agent/protocol.js';
import { SANDBOX_USER } from '../../agent/sandbox-user.js';
import { HearthError } from '../../errors/hearth-error.js';
import { TailBuffer } from '../../host/tail-buffer.js';
import type { BackendName, Sandbox, SnapshotInfo } from '../backend.js';
import { checkSnapshot, rememberVerified } from './snapshot-checks.js';

/**
 * Filesystem snapshots of a sandbox whose writable files are tmpfs mounts (bwrap, gVisor): one tar
 * per mount, made and unpacked by `tar` INSIDE the sandbox, as the sandbox's user, through the
 * agent. The host only moves the archive's bytes between the agent and a file of its own, so no
 * path the sandbox controls (a symlink to /etc, a `..` member) is ever resolved by the host: the
 * host cannot be made to read or write outside the sandbox's tree. Modes, times and links survive;
 * every file in the sandbox belongs to the sandbox user, so ownership does too.
 */

/** The format recorded in `SnapshotInfo.meta.format`; another value is SNAPSHOT_INCOMPATIBLE. */
export const FS_SNAPSHOT_FORMAT = 'tar-per-mount-v1';

/**
 * The sandbox's writable, persistent mounts and the file each is saved to. The user's home is the
 * work dir through the image's symlink, so what was written under /home/user is in work.tar.
 */
export const WRITABLE_MOUNTS: readonly { path: string; file: string }[] = [
  { path: SANDBOX_USER.workDir, file: 'work.tar' },
  { path: '/tmp', file: 'tmp.tar' },
];

/** The image's own tar (read-only in every sandbox), so a program in /work cannot stand in for it. */
const TAR = '/bin/tar';
/** How long packing or unpacking one mount may take. */
const TAR_TIMEOUT_MS = 300_000;
/** Bytes fed to the unpacking tar before the host waits for the agent to catch up. */
const FEED_CHUNK_BYTES = 1024 * 1024;

/**
 * The largest archive a mount of `diskMb` can give: its data plus a 512-byte header per file
 * (tmpfs gives each file at least a 4 KiB page, so headers never outgrow the data), and slack.
 */
export function maxArchiveBytes(diskMb: number): number {
  return Math.ceil(diskMb * 1024 * 1024 * 1.25) + 16 * 1024 * 1024;
}

/**
 * Packs each writable mount into `<dir>/<file>`. Returns the files' total size and the `meta`
 * a restore checks: the format and each file's SHA-256 (a damaged file is refused before use).
 */
export async function saveWritableFiles(
  agent: AgentClient,
  o: { dir: string; diskMb: number },
): Promise<{ sizeBytes: number; meta: Record<string, string> }> {
  let sizeBytes = 0;
  const meta: Record<string, string> = { format: FS_SNAPSHOT_FORMAT };
  try {
    for (const m of WRITABLE_MOUNTS) {
      const packed = await packMount(agent, m, o);
      sizeBytes += packed.bytes;
      meta[`sha256:${m.file}`] = packed.sha256;
      rememberVerified(join(o.dir, m.file), packed.sha256);
    }
  } catch (err) {
    for (const m of WRITABLE_MOUNTS) rmSync(join(o.dir, m.file), { force: true });
    throw err;
  }
  return { sizeBytes, meta };
}

async function packMount(
  agent: AgentClient,
  m: { path: string; file: string },
  o: { dir: string; diskMb: number },
): Promise<{ bytes: number; sha256: string }> {
  const cap = maxArchiveBytes(o.diskMb);
  const path = join(o.dir, m.file);
  // A new file only: O_EXCL and O_NOFOLLOW, so nothing already in the directory is written through.
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let written = 0;
  const hash = createHash('sha256');
  const stderr = new TailBuffer(2048);
  let exit: ExecExit;
  try {
    const handle = agent.exec(
      {
        argv: [TAR, '--create', '--file=-', '--sparse', '--one-file-system', `--directory=${m.path}`, '.'],
        limits: { timeoutMs: TAR_TIMEOUT_MS, maxOutputBytes: cap + 1 },
      },
      {
        // Written at once (synchronously) so host memory never holds more than one chunk of it.
        onStdout: (chunk) => {
          writeSync(fd, chunk);
          hash.update(chunk);
          written += chunk.length;
        },
        onStderr: (chunk) => stderr.push(chunk),
      },
    );
    exit = await handle.exit;
  } catch (err) {
    rmSync(path, { force: true });
    // The sandbox was lost or its agent stopped answering: that error says so better.
    throw err instanceof HearthError
      ? err
      : failed(`packing ${m.path} failed: ${(err as Error).message}`, err);
  } finally {
    closeSync(fd);
  }
  // tar exits 1 when a file changed while it was read (a program still writing): the archive holds
  // what was there. 2 is a file it could not read.
  if (exit.truncated || written > cap || exit.exitCode === null || exit.exitCode > 1) {
    rmSync(path, { force: true });
    const why = exit.truncated
      ? `is larger than ${cap} bytes`
      : exit.timedOut
        ? `took longer than ${TAR_TIMEOUT_MS} ms`
        : `failed (${exit.signal ?? `exit ${exit.exitCode}`}): ${stderr.text().slice(-500)}`;
    throw failed(`packing ${m.path} ${why}`);
  }
  return { bytes: written, sha256: hash.digest('hex') };
}

/**
 * Unpacks `<dir>/<file>` into each writable mount of a fresh sandbox, before it is handed out. The
 * mount points' own modes are kept: /tmp stays sticky whatever the archive says.
 */
export async function loadWritableFiles(agent: AgentClient, dir: string): Promise<void> {
  for (const m of WRITABLE_MOUNTS) await unpackMount(agent, m, join(dir, m.file));
}

async function unpackMount(agent: AgentClient, m: { path: string }, file: string): Promise<void> {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  const stderr = new TailBuffer(2048);
  try {
    const handle = agent.exec(
      {
        argv: [
          TAR,
          '--extract',
          '--file=-',
          `--directory=${m.path}`,
          '--no-overwrite-dir',
          '--preserve-permissions',
          '--no-same-owner',
          // The mount point itself (`.`) is left as the new sandbox made it: its owner may be root
          // (gVisor), whom the sandbox user cannot chmod for. Anchored and not recursive, so the
          // exclusion matches that one member, not what is under it.
          '--no-recursion',
          '--anchored',
          '--exclude=.',
        ],
        stdin: 'pipe',
        limits: { timeoutMs: TAR_TIMEOUT_MS, maxOutputBytes: 64 * 1024 },
      },
      { onStderr: (chunk) => stderr.push(chunk), onStdout: () => {} },
    );
    await handle.started;
    const buf = Buffer.alloc(FEED_CHUNK_BYTES);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      handle.writeStdin(Buffer.from(buf.subarray(0, n)));
      // A round trip per chunk: the agent has taken the chunk before the next is queued, so the
      // host never buffers the whole archive in memory.
      await agent.ping();
    }
    handle.closeStdin();
    const exit = await handle.exit;
    if (exit.exitCode !== 0)
      throw failed(
        `unpacking into ${m.path} failed (${exit.signal ?? `exit ${exit.exitCode}`}): ${stderr.text().slice(-500)}`,
      );
  } catch (err) {
    throw err instanceof HearthError
      ? err
      : failed(`unpacking into ${m.path} failed: ${(err as Error).message}`, err);
  } finally {
    closeSync(fd);
  }
}

function failed(message: string, cause?: unknown): HearthError {
  return new HearthError('SNAPSHOT_FAILED', message, cause === undefined ? {} : { cause });
}

/**
 * A new sandbox from `create()` whose writable files are the snapshot's. They are unpacked by the
 * new sandbox's agent before the sandbox is handed out, so no program of the caller's runs before
 * they are in place. bwrap and gVisor snapshots have one format and restore on either.
 */
export async function restoreWritableFiles(o: {
  backend: BackendName;
  snap: SnapshotInfo;
  create: () => Promise<Sandbox>;
  signal?: AbortSignal | undefined;
}): Promise<Sandbox> {
  await checkSnapshot(o.snap, {
    backend: o.backend,
    from: ['bwrap', 'gvisor'],
    kind: 'filesystem',
    files: WRITABLE_MOUNTS.map((m) => m.file),
    meta: { format: FS_SNAPSHOT_FORMAT },
  });
  const sandbox = await o.create();
  try {
    await loadWritableFiles(sandbox.agent, o.snap.dir);
    if (o.signal?.aborted) throw new HearthError('CANCELLED', 'the restore was cancelled');
    return sandbox;
  } catch (err) {
    await sandbox.destroy();
    throw err;
  }
}
