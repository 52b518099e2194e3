import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HearthPaths, hearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import { type CpioEntry, cpioNewc } from './cpio.js';
import { initScript } from './init-script.js';
import type { GuestKernel } from './kernel.js';

export interface Initramfs {
  path: string;
  /** 16 hex chars of sha256 over the archive. */
  hash: string;
}

export interface EnsureInitramfsOptions {
  kernel: GuestKernel;
  paths?: HearthPaths;
  /** A static busybox. @default '/bin/busybox' (Debian's busybox-static) */
  busybox?: string;
  onProgress?: (message: string) => void;
}

const memo = new Map<string, Initramfs>();

/** The archive's entries: busybox, the modules in load order, /init. */
export function initramfsEntries(opts: { kernel: GuestKernel; busybox: Buffer }): CpioEntry[] {
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'mnt', 'lib', 'lib/modules'].map(
      (path): CpioEntry => ({ type: 'dir', path }),
    ),
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', data: opts.busybox, mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
  ];
  for (const m of opts.kernel.modules) {
    entries.push({
      type: 'file',
      path: `lib/modules/${m}.ko`,
      data: readFileSync(join(opts.kernel.modulesDir, `${m}.ko`)),
    });
  }
  entries.push({
    type: 'file',
    path: 'init',
    data: Buffer.from(initScript({ modules: opts.kernel.modules })),
    mode: 0o755,
  });
  return entries;
}

/**
 * Builds (once) the initramfs for `kernel`, content-addressed as `<paths.vm>/initramfs-<hash>.cpio`.
 * Uncompressed: the kernel copies it in a few ms, where gunzip under TCG costs far more than the
 * few MB of extra reads.
 */
export function ensureInitramfs(opts: EnsureInitramfsOptions): Initramfs {
  const paths = opts.paths ?? hearthPaths();
  const busyboxPath = opts.busybox ?? '/bin/busybox';
  const key = `${paths.vm}|${opts.kernel.dir}|${busyboxPath}`;
  const known = memo.get(key);
  if (known && existsSync(known.path)) return known;
  if (!existsSync(busyboxPath)) {
    throw new HearthError('IMAGE_BUILD_FAILED', `no static busybox at ${busyboxPath}`, {
      hint: 'Install it: apt-get install busybox-static',
    });
  }
  const archive = cpioNewc(initramfsEntries({ kernel: opts.kernel, busybox: readFileSync(busyboxPath) }));
  const hash = createHash('sha256').update(archive).digest('hex').slice(0, 16);
  const path = join(paths.vm, `initramfs-${hash}.cpio`);
  if (!existsSync(path)) {
    mkdirSync(paths.vm, { recursive: true });
    opts.onProgress?.(`initramfs: writing ${path} (${(archive.length / 1048576).toFixed(1)} MiB)`);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, archive);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  const out = { path, hash };
  memo.set(key, out);
  return out;
}
