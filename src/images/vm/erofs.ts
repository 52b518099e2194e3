import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { HearthError } from '../../errors/hearth-error.js';

const run = promisify(execFile);

export interface ErofsOptions {
  /** The directory tree to pack. */
  source: string;
  /** The image file to write; kept when it already exists (the name carries the content key). */
  dest: string;
  /**
   * Compression (`mkfs.erofs -z`); the Debian 6.1 kernel reads lz4 (CONFIG_EROFS_FS_ZIP) but not lzma.
   * Uncompressed reads fastest under TCG, where decompression runs emulated. @default undefined (none)
   */
  compression?: 'lz4' | 'lz4hc';
  onProgress?: (message: string) => void;
}

const building = new Map<string, Promise<string>>();

/**
 * Packs `source` into a read-only erofs image at `dest` (atomically: a temp file, then rename).
 * Concurrent calls for one `dest` share the work.
 */
export function ensureErofs(opts: ErofsOptions): Promise<string> {
  if (existsSync(opts.dest)) return Promise.resolve(opts.dest);
  let p = building.get(opts.dest);
  if (!p) {
    p = build(opts).finally(() => building.delete(opts.dest));
    building.set(opts.dest, p);
  }
  return p;
}

async function build(opts: ErofsOptions): Promise<string> {
  const tmp = `${opts.dest}.tmp-${process.pid}`;
  mkdirSync(dirname(opts.dest), { recursive: true });
  const started = performance.now();
  opts.onProgress?.(`erofs: packing ${opts.source} → ${basename(opts.dest)}`);
  // -T0 and --all-root: the same tree gives the same bytes, and the guest sees root-owned files.
  const args = ['-T0', '--all-root', '--quiet'];
  if (opts.compression) args.push(`-z${opts.compression}`);
  try {
    await run('mkfs.erofs', [...args, tmp, opts.source], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    renameSync(tmp, opts.dest);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const hint = e.code === 'ENOENT' ? 'Install it: apt-get install erofs-utils' : undefined;
    throw new HearthError(
      'IMAGE_BUILD_FAILED',
      `mkfs.erofs ${opts.source} failed: ${e.stderr?.trim() || e.message}`,
      {
        cause: err,
        ...(hint ? { hint } : {}),
      },
    );
  } finally {
    rmSync(tmp, { force: true });
  }
  const mb = statSync(opts.dest).size / 1048576;
  opts.onProgress?.(
    `erofs: ${basename(opts.dest)} ${mb.toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return opts.dest;
}

/** How long an unused older erofs version is kept: another hearth of another version may share the dir. */
const OTHER_VERSION_GRACE_MS = 24 * 3600_000;

/** Whether a live process holds `path` open (a VM booted from it). */
function heldOpen(path: string): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === path) return true;
      } catch {}
    }
  }
  return false;
}

/**
 * Removes `<dir>/<prefix>*.erofs` files other than `keep` (older content keys) once nothing uses
 * them: not opened by a live VM and not used by any hearth for a day (each use refreshes a file's
 * mtime), so two hearth versions sharing one home never pull a drive from under each other.
 */
export function removeOtherErofs(opts: {
  dir: string;
  prefix: string;
  keep: string;
  graceMs?: number;
}): void {
  if (!existsSync(opts.dir)) return;
  const now = Date.now();
  try {
    utimesSync(opts.keep, now / 1000, now / 1000);
  } catch {}
  const graceMs = opts.graceMs ?? OTHER_VERSION_GRACE_MS;
  for (const f of readdirSync(opts.dir)) {
    const path = join(opts.dir, f);
    if (!f.startsWith(opts.prefix) || !f.endsWith('.erofs') || path === opts.keep) continue;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      continue;
    }
    if (now - mtimeMs < graceMs || heldOpen(path)) continue;
    rmSync(path, { force: true });
  }
}
