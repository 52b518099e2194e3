import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type HearthPaths, hearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import { GUEST_MODULES, normaliseModule, orderModules } from './modules.js';
import { extractVmlinux } from './vmlinux.js';

const run = promisify(execFile);

/** The guest kernel hearth's microVMs boot, kept under `<paths.vm>/kernel-<version>/`. */
export interface GuestKernel {
  /** e.g. `6.1.0-56-cloud-amd64`. */
  version: string;
  dir: string;
  /** The compressed bzImage (QEMU `-kernel`). */
  vmlinuz: string;
  /** The uncompressed ELF (Firecracker). */
  vmlinux: string;
  /** Directory of the guest modules, uncompressed `.ko` files. */
  modulesDir: string;
  /** Module names in load order (dependencies first). */
  modules: string[];
}

export interface EnsureKernelOptions {
  paths?: HearthPaths;
  /** Debian package to resolve the kernel from. @default 'linux-image-cloud-amd64' */
  metaPackage?: string;
  onProgress?: (message: string) => void;
}

interface KernelMeta {
  version: string;
  package: string;
  modules: string[];
  vmlinuxFormat: string;
  builtAt: string;
}

/** Resolves the versioned kernel package behind Debian's metapackage (`apt-cache depends`). */
async function resolvePackage(metaPackage: string): Promise<string> {
  try {
    const { stdout } = await run('apt-cache', ['depends', metaPackage], { timeout: 30_000 });
    const dep = /Depends:\s*(linux-image-\S+)/.exec(stdout)?.[1];
    if (dep) return dep;
  } catch {}
  throw new HearthError('IMAGE_BUILD_FAILED', `cannot resolve the guest kernel package from ${metaPackage}`, {
    hint: 'Run `apt-get update`, then retry; the apt cache must know linux-image-cloud-amd64.',
  });
}

/** Newest kernel already prepared, without asking apt (used when apt is unreachable or for speed). */
export function findKernel(paths: HearthPaths = hearthPaths()): GuestKernel | undefined {
  if (!existsSync(paths.vm)) return undefined;
  const dirs = readdirSync(paths.vm).filter((d) => d.startsWith('kernel-') && !d.includes('.tmp'));
  for (const d of dirs.sort().reverse()) {
    const dir = join(paths.vm, d);
    try {
      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as KernelMeta;
      return kernelAt(dir, meta);
    } catch {}
  }
  return undefined;
}

function kernelAt(dir: string, meta: KernelMeta): GuestKernel {
  return {
    version: meta.version,
    dir,
    vmlinuz: join(dir, 'vmlinuz'),
    vmlinux: join(dir, 'vmlinux'),
    modulesDir: join(dir, 'modules'),
    modules: meta.modules,
  };
}

/**
 * Returns the guest kernel, downloading (`apt-get download`) and unpacking (`dpkg-deb -x`) it the
 * first time. A prepared kernel is found again without touching apt.
 */
export async function ensureKernel(opts: EnsureKernelOptions = {}): Promise<GuestKernel> {
  const paths = opts.paths ?? hearthPaths();
  const found = findKernel(paths);
  if (found) return found;
  const progress = opts.onProgress ?? (() => {});
  const pkg = await resolvePackage(opts.metaPackage ?? 'linux-image-cloud-amd64');
  const version = pkg.replace(/^linux-image-/, '');
  const debs = join(paths.cache, 'debs');
  mkdirSync(debs, { recursive: true });
  let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) {
    progress(`kernel: downloading ${pkg}`);
    try {
      await run('apt-get', ['download', pkg], { cwd: debs, timeout: 300_000 });
    } catch (err) {
      throw new HearthError(
        'IMAGE_BUILD_FAILED',
        `apt-get download ${pkg} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb)
      throw new HearthError('IMAGE_BUILD_FAILED', `apt-get download ${pkg} produced no .deb in ${debs}`);
  }
  const final = join(paths.vm, `kernel-${version}`);
  const tmp = `${final}.tmp-${process.pid}`;
  const unpack = `${tmp}/unpacked`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(unpack, { recursive: true });
    progress(`kernel: unpacking ${deb}`);
    await run('dpkg-deb', ['-x', join(debs, deb), unpack], { timeout: 120_000 });
    const vmlinuz = join(unpack, 'boot', `vmlinuz-${version}`);
    copyFileSync(vmlinuz, join(tmp, 'vmlinuz'));
    progress('kernel: extracting the uncompressed vmlinux');
    const { vmlinux, format } = extractVmlinux(readFileSync(vmlinuz));
    writeFileSync(join(tmp, 'vmlinux'), vmlinux);
    const files = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ko')) files.set(normaliseModule(e.name.slice(0, -3)), join(dir, e.name));
      }
    };
    walk(join(unpack, 'lib', 'modules', version, 'kernel'));
    const modules = orderModules({ wanted: GUEST_MODULES, files });
    mkdirSync(join(tmp, 'modules'));
    for (const m of modules) copyFileSync(files.get(m) as string, join(tmp, 'modules', `${m}.ko`));
    const meta: KernelMeta = {
      version,
      package: deb,
      modules,
      vmlinuxFormat: format,
      builtAt: new Date().toISOString(),
    };
    writeFileSync(join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    rmSync(unpack, { recursive: true, force: true });
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    progress(`kernel: ${version} ready (${modules.length} modules)`);
    return kernelAt(final, meta);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
