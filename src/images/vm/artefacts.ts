import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type HearthPaths, hearthPaths } from '../../config/paths.js';
import type { BuiltImage } from '../store.js';
import type { ToolsLayer } from '../tools.js';
import { ensureErofs, removeOtherErofs } from './erofs.js';
import { ensureInitramfs, type Initramfs } from './initramfs.js';
import { ensureKernel, type GuestKernel } from './kernel.js';

/** Everything a microVM boots from, each content-keyed. */
export interface VmArtefacts {
  kernel: GuestKernel;
  initramfs: Initramfs;
  /** The image's rootfs as erofs: `<image dir>/rootfs.erofs` (the image dir is content-keyed). */
  rootfsErofs: string;
  /** The tools layer as erofs: `<paths.vm>/tools-<tools hash>.erofs`. */
  toolsErofs: string;
  /** 16 hex chars over every input above: templates are keyed by it. */
  key: string;
}

export interface EnsureVmArtefactsOptions {
  image: BuiltImage;
  tools: ToolsLayer;
  paths?: HearthPaths;
  onProgress?: (message: string) => void;
}

/** Prepares (once) the kernel, initramfs and erofs images a VM of `image` needs. */
export async function ensureVmArtefacts(opts: EnsureVmArtefactsOptions): Promise<VmArtefacts> {
  const paths = opts.paths ?? hearthPaths();
  const progress = opts.onProgress;
  const kernel = await ensureKernel({ paths, ...(progress ? { onProgress: progress } : {}) });
  const initramfs = ensureInitramfs({ kernel, paths, ...(progress ? { onProgress: progress } : {}) });
  const toolsErofs = join(paths.vm, `tools-${opts.tools.hash}.erofs`);
  const [rootfsErofs] = await Promise.all([
    ensureErofs({
      source: opts.image.rootfs,
      dest: join(opts.image.dir, 'rootfs.erofs'),
      ...(progress ? { onProgress: progress } : {}),
    }),
    ensureErofs({
      source: opts.tools.dir,
      dest: toolsErofs,
      ...(progress ? { onProgress: progress } : {}),
    }).then((p) => {
      removeOtherErofs({ dir: paths.vm, prefix: 'tools-', keep: p });
      return p;
    }),
  ]);
  const key = createHash('sha256')
    .update([kernel.version, initramfs.hash, opts.image.hash, opts.tools.hash].join('|'))
    .digest('hex')
    .slice(0, 16);
  return { kernel, initramfs, rootfsErofs, toolsErofs, key };
}
