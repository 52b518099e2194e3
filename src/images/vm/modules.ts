import { readFileSync } from 'node:fs';
import { HearthError } from '../../errors/hearth-error.js';

/**
 * The kernel modules a hearth guest loads, by purpose. Whatever the kernel's config builds in is
 * skipped; the rest are loaded in dependency order (read from each module's `.modinfo`).
 */
export const GUEST_MODULES = [
  // virtio-mmio transport and its devices: the agent's virtio-serial port and the disks.
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_console',
  'virtio_blk',
  // The image and tools layers are erofs; the writable layer is an overlay on tmpfs.
  'libcrc32c',
  'erofs',
  'overlay',
  // Firecracker talks to the agent over vsock.
  'vsock',
  'vmw_vsock_virtio_transport_common',
  'vmw_vsock_virtio_transport',
] as const;

/** The `depends=` list from a module's `.modinfo` section. */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('\0depends=');
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const end = ko.indexOf(0, at + key.length);
  const value = ko.subarray(at + key.length, end < 0 ? undefined : end).toString('latin1');
  return value ? value.split(',').filter(Boolean) : [];
}

/** Module names use `-` and `_` interchangeably; the kernel normalises to `_`. */
export const normaliseModule = (name: string): string => name.replace(/-/g, '_');

/**
 * Orders `wanted` (plus whatever they depend on) so every module comes after its dependencies.
 * `files` maps a normalised module name to its .ko path; names not in it count as built in.
 */
export function orderModules(opts: {
  wanted: readonly string[];
  files: ReadonlyMap<string, string>;
}): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (raw: string, chain: string[]): void => {
    const name = normaliseModule(raw);
    const file = opts.files.get(name);
    if (!file) return; // built into the kernel
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      throw new HearthError(
        'IMAGE_BUILD_FAILED',
        `kernel module dependency cycle: ${[...chain, name].join(' → ')}`,
      );
    }
    state.set(name, 'visiting');
    for (const dep of moduleDepends(readFileSync(file))) visit(dep, [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const m of opts.wanted) visit(m, []);
  return order;
}
