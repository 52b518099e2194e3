import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where hearth keeps what outlives a process. Two kinds:
 * - content-addressed caches, safe to carry from one machine state to the next (a changed input
 *   gives a new name): images, the tools layer, kernels, initramfs and erofs images, downloads;
 * - state, which describes one machine and must start empty on a fresh one: the database, the run
 *   dir, the accelerator verdict, VM templates (they hold a running guest's memory and devices).
 *
 * `HEARTH_STATE_DIR` moves all of the state out of `HEARTH_HOME`; by default it is `HEARTH_HOME`
 * itself, so an existing install keeps its database and run dir where they were.
 */
export interface HearthPaths {
  /** Root of the caches. `HEARTH_HOME`; @default /var/lib/hearth as root, else ~/.local/share/hearth */
  home: string;
  /** Built image root filesystems: `<images>/<name>-<hash>/`. */
  images: string;
  /** The tools layer mounted at /.hearth in every sandbox (node, agent bundle, exec shim). */
  tools: string;
  /** Kernels, initramfs, erofs images (content-addressed). */
  vm: string;
  /** Download caches (Debian packages). */
  cache: string;
  /** Root of the state. `HEARTH_STATE_DIR`; @default home */
  state: string;
  /** Sockets, per-sandbox temp dirs; reaped at start-up. `HEARTH_RUN_DIR`; @default <state>/run */
  run: string;
  /** The SQLite database file. `HEARTH_DB`; @default <state>/hearth.db */
  db: string;
  /** VM snapshot templates. @default <state>/vm/templates */
  templates: string;
  /** The cached accelerator verdict (KVM or TCG). @default <state>/vm/accel.json */
  accelVerdict: string;
  /** Session snapshots (a folder each) and paused sessions. @default <state>/snapshots */
  snapshots: string;
  /** Where the host's cgroup hierarchies are mounted. `HEARTH_CGROUP_ROOT`; @default /sys/fs/cgroup */
  cgroupRoot: string;
  /** The KVM device probed for hardware acceleration. `HEARTH_KVM_DEVICE`; @default /dev/kvm */
  kvmDevice: string;
}

export function hearthPaths(env: NodeJS.ProcessEnv = process.env): HearthPaths {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const home = env.HEARTH_HOME || (isRoot ? '/var/lib/hearth' : join(homedir(), '.local/share/hearth'));
  const state = env.HEARTH_STATE_DIR || home;
  return {
    home,
    images: join(home, 'images'),
    tools: join(home, 'tools'),
    vm: join(home, 'vm'),
    cache: join(home, 'cache'),
    state,
    run: env.HEARTH_RUN_DIR || join(state, 'run'),
    db: env.HEARTH_DB || join(state, 'hearth.db'),
    templates: join(state, 'vm', 'templates'),
    accelVerdict: join(state, 'vm', 'accel.json'),
    snapshots: join(state, 'snapshots'),
    cgroupRoot: env.HEARTH_CGROUP_ROOT || '/sys/fs/cgroup',
    kvmDevice: env.HEARTH_KVM_DEVICE || '/dev/kvm',
  };
}

let root: string | undefined;

/** The hearth checkout (or installed package) this code runs from, found from this file up. */
export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'hearth') {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the hearth package root above ' + import.meta.url);
    dir = up;
  }
}

/** Where the agent bundle and the exec shim are after `npm run build`. */
export function distDir(): string {
  return join(projectRoot(), 'dist');
}
